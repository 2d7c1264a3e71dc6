import type { LockSession } from '../errors/lock-session.js';
import { trySessionLockSql } from './session-lock.sql.js';
import { lockKeyAsOids, type AdvisoryLockKey } from './lock-key.js';

type Row = Record<string, unknown>;

/*
 * Who holds and who waits for advisory locks: read by `migration-lock status`, the wait progress,
 * and a LockTimeoutError naming the holder.
 */

/** What status shows of a session in pg_locks ⋈ pg_stat_activity (aliases l and a). */
const SESSION_COLUMNS = `a.pid, coalesce(a.application_name, '') AS application_name,
       pg_catalog.host(a.client_addr) AS client_address, a.state, l.granted,
       pg_catalog.floor(extract(epoch FROM pg_catalog.clock_timestamp() - coalesce(a.xact_start, a.backend_start)) * 1000)::int8 AS held_ms,
       pg_catalog.floor(extract(epoch FROM pg_catalog.clock_timestamp() - a.query_start) * 1000)::int8 AS waiting_ms,
       a.query`;

const ADVISORY_LOCKS_HERE = `FROM pg_catalog.pg_locks l
  JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory'
   AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`;

/**
 * Sessions holding or waiting for one two-int key. Parameters: $1 classid and $2 objid (unsigned
 * oids of the key), $3 the exact try-lock statement that session-mode waiters poll with (they have
 * no pg_locks row while they wait, and no meaningful wait time).
 */
export const LOCK_SESSIONS_SQL = `
SELECT ${SESSION_COLUMNS}
  ${ADVISORY_LOCKS_HERE}
   AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 2
UNION ALL
SELECT a.pid, coalesce(a.application_name, ''), pg_catalog.host(a.client_addr), a.state, false, NULL, NULL, a.query
  FROM pg_catalog.pg_stat_activity a
 WHERE a.datname = pg_catalog.current_database() AND a.pid <> pg_catalog.pg_backend_pid() AND pg_catalog.strpos(a.query, $3) > 0
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory'
                     AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 2)`;

/** Every advisory lock in the current database, held or waited for. */
export const ALL_ADVISORY_LOCKS_SQL = `
SELECT l.classid::int8 AS classid, l.objid::int8 AS objid, l.objsubid, ${SESSION_COLUMNS}
  ${ADVISORY_LOCKS_HERE}
 ORDER BY l.classid, l.objid, l.granted DESC, a.pid`;

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
