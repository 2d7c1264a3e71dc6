import type { LockSession } from '../errors/lock-session.js';
import { LOCK_SESSIONS_SQL, trySessionLockSql } from './advisory-lock.sql.js';
import { lockKeyAsOids, type AdvisoryLockKey } from './lock-key.js';

type Row = Record<string, unknown>;

/** A row of LOCK_SESSIONS_SQL or ALL_ADVISORY_LOCKS_SQL as a LockSession. */
export function toLockSession(row: Row): LockSession {
  return {
    pid: Number(row.pid),
    applicationName: String(row.application_name ?? ''),
    clientAddress: (row.client_address as string | null) ?? null,
    state: (row.state as string | null) ?? null,
    heldMs: row.granted ? Number(row.held_ms) : null,
    waitingMs: !row.granted && row.waiting_ms != null ? Number(row.waiting_ms) : null,
    query: (row.query as string | null) ?? null,
  };
}

/**
 * Who holds `key` and who waits for it, read with one statement on the connection `query` sends
 * on: a waiter's own (its pool may have no other) or a status connection.
 */
export async function readLockSessions(
  query: (sql: string, params: unknown[]) => Promise<Row[]>,
  key: AdvisoryLockKey,
): Promise<{ holder: LockSession | null; waiters: LockSession[] }> {
  const rows = await query(LOCK_SESSIONS_SQL, [...lockKeyAsOids(key), trySessionLockSql(key)]);
  const holder = rows.find((row) => row.granted);
  return {
    holder: holder ? toLockSession(holder) : null,
    waiters: rows.filter((row) => !row.granted).map(toLockSession),
  };
}
