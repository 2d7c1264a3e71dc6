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
