import type pg from 'pg';
import { lockKeyAsOids, type AdvisoryLockKey } from '../../src/lock/lock-key.js';

/**
 * Polls `probe` until it returns a value other than undefined: the one place tests wait for
 * another session, by observing the server (pg_locks, pg_stat_activity), never by sleeping a guess.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  limitMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Gave up after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface AdvisoryLockRow {
  pid: number;
  granted: boolean;
}

/** Rows of pg_locks for one two-int advisory key in the client's database. */
export async function advisoryLockRows(
  client: pg.Client,
  key: AdvisoryLockKey,
): Promise<AdvisoryLockRow[]> {
  const [classid, objid] = lockKeyAsOids(key);
  const result = await client.query<AdvisoryLockRow>(
    `SELECT pid, granted FROM pg_locks
      WHERE locktype = 'advisory' AND objsubid = 2 AND classid = $1::oid AND objid = $2::oid
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [classid, objid],
  );
  return result.rows;
}

/** How many advisory locks are held or awaited in the client's database (pg_locks is the server's). */
export async function advisoryLocksInDatabase(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return rows[0].n;
}

/** Waits until `count` sessions wait (granted = false) for `key`; returns their pids. */
export function waitersFor(client: pg.Client, key: AdvisoryLockKey, count = 1): Promise<number[]> {
  return pollUntil(async () => {
    const waiting = (await advisoryLockRows(client, key)).filter((row) => !row.granted);
    return waiting.length >= count ? waiting.map((row) => row.pid) : undefined;
  }, `${count} waiter(s) in pg_locks`);
}

/** Waits until some session holds `key`; returns its pid. */
export function holderOf(client: pg.Client, key: AdvisoryLockKey): Promise<number> {
  return pollUntil(
    async () => (await advisoryLockRows(client, key)).find((row) => row.granted)?.pid,
    'a lock holder',
  );
}

/** Waits until some session waits for the one-number advisory lock `key` (objsubid 1), a test gate. */
export async function waiterOnGate(client: pg.Client, key: number): Promise<void> {
  await pollUntil(async () => {
    const { rows } = await client.query(
      `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND objid = $1 AND NOT granted
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [key],
    );
    return rows.length > 0 ? true : undefined;
  }, `a waiter on gate lock ${key}`);
}

/** Waits until `sql` returns at least `count` rows on `client`; returns them. */
export function rowsAppear<R extends Record<string, unknown>>(
  client: pg.Client,
  what: string,
  sql: string,
  params: unknown[] = [],
  count = 1,
): Promise<R[]> {
  return pollUntil(async () => {
    const { rows } = await client.query<R>(sql, params);
    return rows.length >= count ? rows : undefined;
  }, what);
}

/**
 * Sessions of the client's database, other than its own and `except`, whose last statement tried a
 * session lock (pg_try_advisory_lock): waiters in modes each / none, which poll instead of waiting
 * in pg_locks. `applicationName`: only sessions whose application_name is LIKE it. `idle`: that
 * statement has been answered (the waiter sits between polls).
 */
export async function sessionLockPollers(
  client: pg.Client,
  filter: { except?: readonly number[]; applicationName?: string } = {},
): Promise<Array<{ pid: number; idle: boolean }>> {
  const { rows } = await client.query<{ pid: number; idle: boolean }>(
    `SELECT pid, state = 'idle' AS idle FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND NOT pid = ANY($1::int[])
        AND application_name LIKE $2 AND query LIKE '%pg_try_advisory_lock%'`,
    [filter.except ?? [], filter.applicationName ?? '%'],
  );
  return rows;
}
