import type { AdvisoryLockKey } from './lock-key.js';

/*
 * Every SQL statement the lock sends, in one place.
 *
 * Taking the lock is one round trip: the transaction start, its settings and the lock go as one
 * simple-protocol string (the extended protocol allows one statement per round trip). The only
 * values inlined are integers this package computed and checked itself; nothing from a caller
 * is ever interpolated.
 */

/**
 * Starts the lock transaction and waits for the lock.
 * - `lock_timeout` is enforced by the server with millisecond precision, and a failed wait leaves
 *   nothing in pg_locks; it is put back to the session default once the lock is held, so it does
 *   not limit the statements of the protected work.
 * - `idle_in_transaction_session_timeout` is switched off for this transaction only: protected
 *   work may pause between statements, and a server-side kill would silently pass the lock on.
 */
export function beginAndLockSql(key: AdvisoryLockKey, timeoutMs: number): string {
  return [
    'START TRANSACTION',
    `SET LOCAL lock_timeout = '${int(timeoutMs)}ms'`,
    'SET LOCAL idle_in_transaction_session_timeout = 0',
    `SELECT pg_advisory_xact_lock(${int(key[0])}::int4, ${int(key[1])}::int4)`,
    'SET LOCAL lock_timeout TO DEFAULT',
  ].join('; ');
}

/** Starts the lock transaction and tries the lock once; the last result row says whether it got it. */
export function beginAndTryLockSql(key: AdvisoryLockKey): string {
  return [
    'START TRANSACTION',
    'SET LOCAL idle_in_transaction_session_timeout = 0',
    `SELECT pg_try_advisory_xact_lock(${int(key[0])}::int4, ${int(key[1])}::int4) AS acquired`,
  ].join('; ');
}

/**
 * The sessions holding an advisory lock (two-int form: objsubid = 2) in the current database.
 * Parameters: classid and objid as unsigned oids.
 */
export const LOCK_HOLDERS_SQL = `
SELECT a.pid,
       coalesce(a.application_name, '') AS application_name,
       host(a.client_addr) AS client_address,
       a.state,
       floor(extract(epoch FROM clock_timestamp() - coalesce(a.xact_start, a.backend_start)) * 1000)::int8 AS held_ms
  FROM pg_locks l
  JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory'
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
   AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 2
   AND l.granted`;

/** Cancels the statement a backend is running (its lock wait): sent from a separate connection. */
export const CANCEL_BACKEND_SQL = 'SELECT pg_cancel_backend($1::int4)';

function int(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not an integer: ${value}`);
  return String(value);
}

/**
 * Ends the lock transaction. PostgreSQL answers COMMIT of a transaction that an earlier error
 * aborted with the tag ROLLBACK and no error, so the caller must check the tag.
 */
export const COMMIT_SQL = 'COMMIT';
