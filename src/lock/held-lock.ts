import type { EntityManager, QueryRunner } from 'typeorm';
import { shown } from '../errors/migration-lock.messages.js';
import type { AdvisoryLockKey } from './lock-key.js';

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

/** `"id/type" (k1, k2)`: how a lock is named in messages and logs. */
export function describeLock(id: string, type: string, key: AdvisoryLockKey): string {
  return `"${shown(id)}/${shown(type)}" (${key[0]}, ${key[1]})`;
}
