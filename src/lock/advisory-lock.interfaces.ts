import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import type { AdvisoryLockKey } from './lock-key.js';

/* What a caller of AdvisoryLockService hands in and gets back: the public lock types, in one place. */

/** What the protected function learns about the lock it runs under. */
export interface HeldLock {
  readonly id: string;
  readonly type: string;
  readonly key: AdvisoryLockKey;
  /** Server process id of the connection that holds the lock and runs the work. */
  readonly backendPid: number;
  /** How long the wait for the lock took, in ms. */
  readonly waitedMs: number;
  readonly acquiredAt: Date;
  /**
   * Fires when the caller's AbortSignal fires or the lock's connection is lost: long work can
   * check it between steps and stop early.
   */
  readonly signal: AbortSignal;
  /**
   * `signal.aborted`, read without making the signal (costly on a fresh process's first hold): the
   * cheap check between steps.
   */
  readonly stopping: boolean;
}

/** The function run under the lock: `manager` is bound to the lock's own connection and transaction. */
export type LockedWork<T> = (manager: EntityManager, lock: HeldLock) => Promise<T>;

/**
 * The function run under a session-level lock: `queryRunner` is the lock's own connection, outside
 * any transaction; the function starts and commits transactions itself.
 */
export type SessionLockedWork<T> = (queryRunner: QueryRunner, lock: HeldLock) => Promise<T>;

/** Result of tryWithLock: the value when the lock was free, or `acquired: false` at once. */
export type TryLockResult<T> = { acquired: true; value: T } | { acquired: false };

/** Options of one withLock call. */
export interface WithLockOptions {
  /**
   * How long to wait for the lock, enforced by the server (`lock_timeout`); 0 waits forever.
   * @default the service's default (module option `timeoutMs`, 5 minutes)
   */
  timeoutMs?: number;
  /** Aborting while waiting cancels the server-side wait; while holding, rolls the work back. */
  signal?: AbortSignal;
}

/** Options of one tryWithLock call. */
export interface TryWithLockOptions {
  /** Aborting while holding rolls the work back. */
  signal?: AbortSignal;
}

/** Defaults an AdvisoryLockService applies to every call. */
export interface AdvisoryLockDefaults {
  /**
   * A DataSource whose connections reach PostgreSQL directly, for the session-level forms
   * (withSessionLock, withSessionLockOrWait) when the main DataSource goes through a pooler.
   * @default the main DataSource
   */
  sessionDataSource?: DataSource;
  /** @default 300000 (5 minutes, like the original Go implementation) */
  timeoutMs?: number;
  /**
   * `application_name` of the lock connections while they hold or wait for a lock.
   * @default `<the DataSource's applicationName>:<hostname>:<pid>`, or `migration-lock:<hostname>:<pid>`
   */
  applicationName?: string;
}

/*
 * @internal What AdvisoryLockService.hold() takes and answers: the one path of every public method,
 * and the migration runner's entry (it needs the lock's QueryRunner in both forms, and a follow
 * that reads the migrations table in the round trip that ends the wait).
 */

/**
 * A read the caller hands a transaction-form `follow`: sent in the round trip that ends the wait,
 * once the holder is done, so what the holder left comes back with the answer. The lock knows
 * nothing of what is read; the caller parses the rows, and may take an error of its own statement
 * (a table no holder made yet) as an answer instead of a failed wait.
 */
export interface ReadAfterRelease<R> {
  /** One read-only statement, sent after the wait's COMMIT in the same simple query. */
  readonly sql: string;
  parse(rows: ReadonlyArray<Record<string, unknown>>): R;
  /** An error only `sql` can raise, as the caller's answer; undefined: the error is the wait's. */
  answerFor?(error: unknown): R | undefined;
}

/**
 * Which lock a call takes and what it does while another session holds it: `wait` in line for it,
 * `try` (give up at once), or `follow` (wait until the holder is done without taking the lock, then
 * resolve `{ acquired: false }` so the caller looks at what the holder did).
 */
export type LockMode<R = never> =
  | {
      readonly form: 'transaction';
      readonly whenHeld: 'wait' | 'try' | 'follow';
      /** `follow` only: what to read once the holder is done, in the same round trip. */
      readonly readAfterRelease?: ReadAfterRelease<R>;
    }
  | { readonly form: 'session'; readonly whenHeld: 'wait' | 'try' | 'follow' };

/** What hold() did; a follow given a `readAfterRelease` brings its answer in `read`. */
export type HoldResult<T, R = never> = { acquired: true; value: T } | { acquired: false; read?: R };

/** Work run under the lock, on the lock's own QueryRunner (inside its transaction in the transaction form). */
export type QueryRunnerWork<T> = (queryRunner: QueryRunner, lock: HeldLock) => Promise<T>;

/**
 * How a session-lock wait ended: `taken` (by the first try), `held` (after a wait), `timeout`,
 * `aborted`, `busy` (the first try failed and the caller asked for no wait), or `released`: the
 * holder announced its release (only when the caller asked to stop there, to look at what the
 * holder did before trying again).
 */
export type SessionWaitEnd = 'taken' | 'held' | 'timeout' | 'aborted' | 'busy' | 'released';
