import {
  InvalidLockArgumentError,
  LockAbortedError,
  LockLostError,
  LockTimeoutError,
} from '../errors/migration-lock.errors.js';
import { isConnectionLoss } from './connection-loss.js';
import { describeLock } from './held-lock.js';
import type { LockConnection } from './lock-connection.js';
import { readLockSessions } from './lock-sessions.js';
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

/** A timeout, naming the holder as the server sees it now (read on the waiter's own connection). */
export async function lockTimeout(
  connection: LockConnection,
  request: LockRequest,
  timeoutMs: number,
  cause?: unknown,
): Promise<LockTimeoutError> {
  const { holder } = await readLockSessions(
    (sql, params) => connection.queryRunner.query(sql, params),
    request.key,
  ).catch(() => ({ holder: null }));
  return new LockTimeoutError(request.name, timeoutMs, holder ?? undefined, { cause });
}

/** Maps an error seen while waiting for the lock: a lost connection is LockLostError (waiting). */
export function waitingFailure(
  connection: LockConnection,
  request: LockRequest,
  error: unknown,
): unknown {
  if (connection.lostCause || isConnectionLoss(error)) {
    return new LockLostError(request.name, {
      cause: connection.lostCause ?? error,
      phase: 'waiting',
    });
  }
  return error;
}

/** Maps an error seen while holding the lock: a lost connection always wins, then an abort. */
export function holdingFailure(
  connection: LockConnection,
  request: LockRequest,
  error: unknown,
): unknown {
  if (connection.lostCause || isConnectionLoss(error)) {
    return new LockLostError(request.name, { cause: connection.lostCause ?? error });
  }
  if (request.signal?.aborted)
    return new LockAbortedError(request.name, 'running', { cause: error });
  return error;
}
