import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { isMainThread } from 'node:worker_threads';
import type pg from 'pg';
import { dropWatcher } from './drop-watcher.js';
import { dropDatabaseSql, TERMINATE_SESSION_SQL } from './test-database.sql.js';

/*
 * Test databases and spares not dropped by the time the process ends (a test file that forgot
 * drop(), a spare nobody claimed, a Jest worker ended or killed) are dropped then, by a small
 * watcher process (drop-watcher.ts): it learns each database over a pipe and, when the pipe closes — this process
 * is gone, however it ended — ends any session still cloning a spare and drops what is left.
 * Not an 'exit' handler: inside a Jest test file `process` is a copy whose 'exit' never fires, and
 * a killed process runs no handler at all. A watcher killed with it leaves them behind; the next
 * createTestDatabase on this host drops those (their pid no longer runs), or claims a spare.
 *
 * A finished spare is handed over rather than dropped at once: vitest (what nest new v12 sets up)
 * and node --test run every test file in a process of its own, so the next file's call comes from
 * a new process, a second or so after this one ended, and can rename the spare only if it is still
 * there. The watcher keeps it while the test runner (this process's parent, or this process when
 * the tests run in its worker threads) still runs, for at most HAND_OVER_MS, then drops it unless
 * it was claimed (renamed) by then.
 */
type Statement = [sql: string, params: unknown[]];

/**
 * Ways to reach the server, tried in order: the options' own database first, then the maintenance
 * database `postgres` — a CI job that drops its base database as soon as its tests end would
 * otherwise leave the watcher nowhere to connect.
 */
export type ServerConnections = readonly pg.ClientConfig[];

/** The longest a finished spare outlives its process, waiting for the next test file's call. */
export const HAND_OVER_MS = 10_000;

const connections = new Map<string, ServerConnections>();
let watcher: ChildProcess | undefined;

/** Drops `name` when this process ends, unless it was dropped (or renamed) before: see forget. */
export function dropOnExit(server: ServerConnections, name: string): void {
  connections.set(name, server);
  send(name, [[dropDatabaseSql(name), []]]);
}

/** The session cloning `name` (a spare) while it does: it is ended before the drop. */
export function cloningIn(name: string, session: number | undefined): void {
  if (!connections.has(name)) return;
  send(name, [
    ...(session === undefined ? [] : [[TERMINATE_SESSION_SQL, [session]] as Statement]),
    [dropDatabaseSql(name), []],
  ]);
}

/** A spare whose clone finished: at exit it is handed over to the next test file (see above). */
export function spareMade(name: string): void {
  if (!connections.has(name)) return;
  send(name, [[dropDatabaseSql(name), []]], { handOver: true });
}

/** Dropped by its own drop() or renamed: nothing left to do at exit. */
export function forget(name: string): void {
  if (!connections.delete(name)) return;
  send(name, undefined);
}

function send(
  name: string,
  statements: Statement[] | undefined,
  { handOver = false }: { handOver?: boolean } = {},
): void {
  const server = statements && connections.get(name);
  const update = { name, connections: server, statements, handOver };
  watching().stdin?.write(`${JSON.stringify(update)}\n`);
}

function watching(): ChildProcess {
  if (watcher) return watcher;
  // The test runner: the process that starts one per test file, or this one if it runs them in
  // worker threads.
  const runner = isMainThread ? process.ppid : process.pid;
  const script = `(${dropWatcher.toString()})(require, ${runner}, ${HAND_OVER_MS})`;
  watcher = spawn(process.execPath, ['-e', script], {
    // Its own process group: a Ctrl-C on the test run must not end it before it has cleaned up.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watcher.on('error', () => undefined);
  watcher.stdin?.on('error', () => undefined);
  // Neither the watcher nor its pipe may keep this process alive.
  watcher.unref();
  (watcher.stdin as Partial<Socket> | null)?.unref?.();
  return watcher;
}
