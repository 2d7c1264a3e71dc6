import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../reference/runtime/free-port.js';
import { pollUntil } from './observe.js';
import { connectClient } from './test-database.js';

/** A PgBouncer this test started in front of the test server. */
export interface PgBouncer {
  /** The URL of `database` through the pooler (no credentials: the pooler logs in for us). */
  url(database: string): string;
  stop(): Promise<void>;
}

export type PoolMode = 'transaction' | 'session';

/** Whether the Debian package `pgbouncer` is installed (.ci/run installs it). */
export function pgbouncerInstalled(): boolean {
  return spawnSync('pgbouncer', ['--version']).status === 0;
}

/**
 * Starts PgBouncer on a free port in front of the server at `serverUrl`, forwarding every database.
 * As root it runs as the `postgres` user (`-u postgres`; PgBouncer refuses root), so its folder is
 * one that user can enter.
 */
export async function startPgBouncer(
  serverUrl: string,
  poolMode: PoolMode,
  defaultPoolSize = 2,
): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'pgbouncer-'));
  chmodSync(dir, 0o777);
  const credentials = [
    `user=${decodeURIComponent(server.username)}`,
    ...(server.password ? [`password=${decodeURIComponent(server.password)}`] : []),
  ].join(' ');
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432} ${credentials}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // Clients are not authenticated: every database logs in with the credentials above.
      'auth_type = any',
      `pool_mode = ${poolMode}`,
      `default_pool_size = ${defaultPoolSize}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,options',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      '',
    ].join('\n'),
  );
  chmodSync(ini, 0o644);
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), ini], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = (database: string) => `postgres://pooler@127.0.0.1:${port}/${database}`;
  try {
    await pollUntil(async () => {
      if (child.exitCode !== null) {
        const log = readFileSync(join(dir, 'pgbouncer.log'), 'utf8').slice(-2000);
        throw new Error(`pgbouncer exited ${child.exitCode}:\n${log}`);
      }
      const client = await connectClient(url('postgres'), 'pgbouncer-ready').catch(() => undefined);
      await client?.end();
      return client ? true : undefined;
    }, `pgbouncer on port ${port}`);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
