import type { DataSource } from 'typeorm';
import {
  KEEPALIVE_IDLE_MS,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_PROBES,
} from '../connection/connection-loss.js';
import { integerLiteral, textLiteral } from '../connection/sql-literal.js';
import { COMMIT_SQL } from '../connection/transaction-state.js';
import { lockKeyAsOids, type AdvisoryLockKey } from './lock-key.js';

/*
 * Every SQL statement the lock sends, in one place.
 *
 * Taking the lock is one round trip: the transaction start, its settings and the lock go as one
 * simple-protocol string (the extended protocol allows one statement per round trip). The only
 * values inlined are integers this package computed and checked itself; nothing from a caller
 * is ever interpolated.
 */

/*
 * Read committed whatever default_transaction_isolation says (a database, role or connection may
 * set repeatable read or serializable). The lock is taken by a SELECT, and in those levels the
 * transaction's one snapshot is taken by its first SELECT: the try, before a held lock is waited
 * for. The work under the lock would then not see what the previous holder committed (measured:
 * a waiter's count missed the holder's row, a second revert undid the same migration again, a
 * waiting job's period claim failed with a serialization error). In read committed each statement
 * of the work sees everything committed before it, the previous holder's commit included.
 */
const START_LOCK_TRANSACTION_SQL = 'START TRANSACTION ISOLATION LEVEL READ COMMITTED';

/**
 * Starts the lock transaction and tries the lock once; the last result row says whether it got it.
 * A free lock is taken here, in one round trip, with nothing to undo: only a lock that is held
 * needs the bounded wait below, and its extra round trip comes before the wait, not after it.
 */
export function beginAndTryLockSql(
  key: AdvisoryLockKey,
  settings: LockConnectionSettings,
  withServerProbes: boolean,
): string {
  return [
    START_LOCK_TRANSACTION_SQL,
    ...settingsSql('LOCAL', settings),
    ...(withServerProbes ? serverProbesSql() : []),
    `SELECT pg_catalog.pg_try_advisory_xact_lock(${integerLiteral(key[0])}::int4, ${integerLiteral(key[1])}::int4) AS acquired`,
  ].join('; ');
}

/**
 * After a try that took the lock, until the form is proven on the DataSource: whether this backend
 * now holds the lock's own row in pg_locks (a stub's "taken" leaves none), and the server's version
 * for the message that refuses it.
 */
export function exclusiveProofSql(key: AdvisoryLockKey): string {
  const [classid, objid] = lockKeyAsOids(key);
  return `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_catalog.pg_backend_pid() AND classid = ${integerLiteral(classid)}::oid AND objid = ${integerLiteral(objid)}::oid AND objsubid = 2) AS proven, pg_catalog.version() AS server_version`;
}

/**
 * After a failed try, in the same transaction: waits for the lock. `lock_timeout` is enforced by
 * the server with millisecond precision, and a failed wait leaves nothing in pg_locks; it is put
 * back to the session default once the lock is held, so it does not limit the protected work.
 */
export function waitForLockSql(
  key: AdvisoryLockKey,
  timeoutMs: number,
  settings: LockConnectionSettings,
): string {
  return [
    ...boundWaitSql(timeoutMs, settings),
    `SELECT pg_catalog.pg_advisory_xact_lock(${integerLiteral(key[0])}::int4, ${integerLiteral(key[1])}::int4)`,
    'SET LOCAL lock_timeout TO DEFAULT',
    'SET LOCAL statement_timeout TO DEFAULT',
    ...(settings.postgres17 ? ['SET LOCAL transaction_timeout TO DEFAULT'] : []),
  ].join('; ');
}

/*
 * The wait is bounded by the caller's timeoutMs alone: lock_timeout says how long, and the
 * role's or database's statement_timeout (measured here: 1 s cut a 10 s wait with 57014) is lifted
 * for the waiting statement. Both go back to their defaults before the protected work, which the
 * user's statement_timeout still bounds. Each statement of one simple query gets its own timer
 * (PostgreSQL 13+), so the lifted value applies to the statement after it.
 * transaction_timeout (17+) is lifted too: it counts from the transaction's start, so it would cut
 * the wait (measured: 2 s ended an 8 s wait by terminating the connection). Set back to its default
 * once the lock is held, its timer starts again from there: the work gets the whole of it.
 */
function boundWaitSql(timeoutMs: number, settings: LockConnectionSettings): string[] {
  return [
    `SET LOCAL lock_timeout = '${integerLiteral(timeoutMs)}ms'`,
    'SET LOCAL statement_timeout = 0',
    ...(settings.postgres17 ? ['SET LOCAL transaction_timeout = 0'] : []),
  ];
}

/**
 * After a failed try, in the same transaction: waits until the holder is done without taking the
 * lock (the shared form, granted to every waiter at once), and ends the transaction, which lets the
 * shared lock go at once. One round trip from the try to the end of the wait.
 * `thenRead`, a read-only statement the caller owns, runs after the COMMIT in the same round trip:
 * what the holder left is in the answer that ends the wait. After an explicit COMMIT, a simple
 * query's next statement runs in an implicit transaction of its own: if it fails, the wait's
 * transaction is committed all the same and the connection is idle.
 */
export function awaitReleaseAndCommitSql(
  key: AdvisoryLockKey,
  timeoutMs: number,
  settings: LockConnectionSettings,
  thenRead?: string,
): string {
  return [
    ...boundWaitSql(timeoutMs, settings),
    `SELECT pg_catalog.pg_advisory_xact_lock_shared(${integerLiteral(key[0])}::int4, ${integerLiteral(key[1])}::int4)`,
    COMMIT_SQL,
    ...(thenRead === undefined ? [] : [thenRead]),
  ].join('; ');
}

/** How often a server checks that the client of a running statement is still there, in ms. */
export const CLIENT_CHECK_INTERVAL_MS = 500;

/** Per-connection settings of a lock connection. */
export interface LockConnectionSettings {
  /** Shown in pg_stat_activity while the connection waits for or holds the lock. */
  readonly applicationName: string;
  /** PostgreSQL 14 or newer: client_connection_check_interval and idle_session_timeout exist. */
  readonly postgres14: boolean;
  /** PostgreSQL 17 or newer: transaction_timeout exists. */
  readonly postgres17: boolean;
}

/**
 * The settings for the server the DataSource reached, from the version TypeORM read when it
 * connected; undefined until it did (the caller asks again: nothing is known before a connection).
 */
export function connectionSettingsFor(
  dataSource: DataSource,
  applicationName: string,
): LockConnectionSettings | undefined {
  const version = (dataSource.driver as { version?: string }).version;
  if (!version) return undefined;
  const major = Number.parseInt(version, 10);
  return { applicationName, postgres14: major >= 14, postgres17: major >= 17 };
}

/*
 * - client_connection_check_interval (14+): a holder killed with -9 in the middle of a long
 *   statement is noticed within this interval, and its lock passes on, instead of after the statement.
 * - idle_in_transaction_session_timeout, idle_session_timeout (14+): a holder pausing between steps
 *   must not be killed by the server, which would pass the lock on while its owner goes on.
 * Set by name, not looked up in pg_settings, which costs more than the lock (docs/benchmarks.md).
 */
export function settingsSql(
  scope: 'LOCAL' | 'SESSION',
  settings: LockConnectionSettings,
): string[] {
  const set = (name: string, value: string) => `SET ${scope} ${name} = ${value}`;
  return [
    // Checked printable ASCII by the options already; PostgreSQL would replace anything else by '?'.
    set('application_name', textLiteral(printableAscii(settings.applicationName))),
    set('idle_in_transaction_session_timeout', '0'),
    ...(settings.postgres14
      ? [
          set('client_connection_check_interval', `'${CLIENT_CHECK_INTERVAL_MS}ms'`),
          ...(scope === 'SESSION' ? [set('idle_session_timeout', '0')] : []),
        ]
      : []),
  ];
}

/**
 * The server's side of the client's keepalive (connection-keepalive.ts). A holder whose host
 * vanished (a node failure, a network partition) sends no FIN: without probes the server keeps its
 * backend, and the lock, for the kernel's default of over two hours while every other replica
 * times out behind it; with them, about 20 s. Ignored on a Unix-domain socket. Session settings,
 * sent once per pooled connection (LockConnection.serverProbes): they stay with it, and three
 * statements (and the setsockopt calls behind them) on every lock cost a withLock a measurable share
 * (docs/benchmarks.md).
 */
export function serverProbesSql(): string[] {
  return [
    `SET SESSION tcp_keepalives_idle = ${KEEPALIVE_IDLE_MS / 1000}`,
    `SET SESSION tcp_keepalives_interval = ${KEEPALIVE_INTERVAL_MS / 1000}`,
    `SET SESSION tcp_keepalives_count = ${KEEPALIVE_PROBES}`,
  ];
}

function printableAscii(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new TypeError('not printable ASCII');
  return value;
}
