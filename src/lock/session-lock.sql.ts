import { integerLiteral } from '../connection/sql-literal.js';
import { serverProbesSql, settingsSql, type LockConnectionSettings } from './advisory-lock.sql.js';
import type { AdvisoryLockKey } from './lock-key.js';

/*
 * The statements of the session-level form (`pg_advisory_lock`), in one place: the holder's
 * announced release over LISTEN/NOTIFY, the waiters' tries, the reset before the pool.
 */

/** The LISTEN/NOTIFY channel on which a session-lock holder announces its release. */
export function releaseChannel(key: AdvisoryLockKey): string {
  return `migration_lock_${integerLiteral(key[0] >>> 0)}_${integerLiteral(key[1] >>> 0)}`;
}

/**
 * First round trip of a session-level lock: protect the connection, listen for the holder's
 * release, and try the lock once. Waiters never sit in a blocking lock statement: an active
 * statement holds a snapshot, and a holder's CREATE INDEX CONCURRENTLY would wait for it.
 */
export function prepareAndTrySessionLockSql(
  key: AdvisoryLockKey,
  settings: LockConnectionSettings,
): string {
  return [
    ...settingsSql('SESSION', settings),
    // Always: the session lock ends with DISCARD ALL, which resets them.
    ...serverProbesSql(),
    `LISTEN ${releaseChannel(key)}`,
    trySessionLockSql(key),
  ].join('; ');
}

/**
 * Tries the session-level lock once (again after a release notice, or on the slow poll). The key is
 * in the text so that `migration-lock status` finds the waiters in pg_stat_activity.query.
 */
export function trySessionLockSql(key: AdvisoryLockKey): string {
  return `SELECT pg_catalog.pg_try_advisory_lock(${integerLiteral(key[0])}::int4, ${integerLiteral(key[1])}::int4) AS acquired`;
}

/**
 * The holder's announcement that it is done, committed (and so sent to every listening session)
 * while the lock is still held. A follower whose poll gets the lock right after the unlock then has
 * the notice ahead of that poll's result, and follows instead of taking the holder for dead. (A
 * single NOTIFY after the unlock goes out only when that statement's implicit transaction ends: a
 * poll in between, on a loaded machine, saw a free lock and no notice.) Sent alone before the unlock,
 * or in a transaction block of its own ahead of it (announceAndReleaseSql).
 */
export function announceReleaseSql(key: AdvisoryLockKey): string {
  return `NOTIFY ${releaseChannel(key)}, '${RELEASE_ANNOUNCED}'`;
}

/**
 * The announcement and the unlock in one round trip, for a connection known to be outside any
 * transaction: the announcement gets a transaction block of its own, committed before the unlock
 * runs (a simple query's statements after an explicit COMMIT run in a transaction of their own).
 * Inside a transaction the work left open, that COMMIT would commit it: never sent there.
 */
export function announceAndReleaseSql(key: AdvisoryLockKey): string {
  return ['BEGIN', announceReleaseSql(key), 'COMMIT', unlockAndNotifySql(key)].join('; ');
}

/**
 * The payload of the announcement. Waiters in line let it pass (the lock is still held: a try then
 * only fails) and wake at the unlock's notice; followers stop at it. Any other payload, none
 * included, wakes every waiter.
 */
export const RELEASE_ANNOUNCED = 'announced';

/**
 * Releases the session-level lock, then wakes the waiters in line (NOTIFY is sent at the end of the
 * statement): the holder's release, and a follower's that took the lock on a poll right after it.
 */
export function unlockAndNotifySql(key: AdvisoryLockKey): string {
  return [
    `SELECT pg_catalog.pg_advisory_unlock(${integerLiteral(key[0])}::int4, ${integerLiteral(key[1])}::int4) AS released`,
    `NOTIFY ${releaseChannel(key)}, 'free'`,
  ].join('; ');
}

/**
 * A round trip and nothing else: a notification the server holds for this session is sent before
 * the session reads its next statement, so it reaches the client ahead of this one's result.
 */
export const ROUND_TRIP_SQL = 'SELECT 1';

/**
 * Returns a session-lock connection to the state the pool handed it out in: no LISTEN, no session
 * settings, no advisory locks (a safety net: the lock was released already). It cannot run inside
 * a transaction: a connection left in one is closed instead of pooled.
 */
export const RESET_SESSION_SQL = 'DISCARD ALL';

/*
 * The same session-level lock for a plain pg client, with the key as parameters: the testing
 * entry's template and spare locks, taken on a client of its own outside any DataSource.
 */
export const SESSION_LOCK_SQL = 'SELECT pg_catalog.pg_advisory_lock($1::int4, $2::int4)';
export const SESSION_UNLOCK_SQL = 'SELECT pg_catalog.pg_advisory_unlock($1::int4, $2::int4)';
export const TRY_SESSION_LOCK_SQL =
  'SELECT pg_catalog.pg_try_advisory_lock($1::int4, $2::int4) AS acquired';
