import { InvalidLockArgumentError, LockAbortedError } from '../errors/migration-lock.errors.js';
import { describeLock } from './held-lock.js';
import { advisoryLockKey, type AdvisoryLockKey } from './lock-key.js';

/** One call's lock, checked before any SQL runs. */
export interface LockRequest {
  readonly id: string;
  readonly type: string;
  readonly key: AdvisoryLockKey;
  /** `"id/type" (k1, k2)`, for messages. */
  readonly name: string;
  readonly signal: AbortSignal | undefined;
}

/** Checks everything that can be checked before any SQL runs. */
export function createLockRequest(
  id: string,
  type: string,
  fn: unknown,
  signal: AbortSignal | undefined,
): LockRequest {
  const key = advisoryLockKey(id, type);
  if (typeof fn !== 'function') throw InvalidLockArgumentError.work(fn);
  const name = describeLock(id, type, key);
  if (signal?.aborted) throw new LockAbortedError(name, 'waiting', { cause: signal.reason });
  return { id, type, key, name, signal };
}
