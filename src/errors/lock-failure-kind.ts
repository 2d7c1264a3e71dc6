import {
  LockAbortedError,
  LockLostError,
  LockTimeoutError,
  LockWaitCanceledError,
} from './migration-lock.errors.js';

/** A lock call that ended without its work: the wait timed out, was aborted, or the lock was lost. */
export type LockFailureKind = 'timeout' | 'aborted' | 'lost';

const KIND_OF: Record<string, LockFailureKind> = {
  [LockTimeoutError.code]: 'timeout',
  [LockAbortedError.code]: 'aborted',
  [LockWaitCanceledError.code]: 'aborted',
  [LockLostError.code]: 'lost',
};

/**
 * What kind of lock failure `error` is, by its code: how a wait ended (`waitEnded`) and what the
 * failures counter counts. Undefined for any other error.
 */
export function lockFailureKind(error: unknown): LockFailureKind | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? KIND_OF[code] : undefined;
}
