import type { DataSource } from 'typeorm';
import { LockAbortedError, LockLostError } from '../errors/migration-lock.errors.js';
import type { HeldLock } from './held-lock.js';
import type { LockConnection } from './lock-connection.js';
import { holdingFailure, type LockRequest } from './lock-request.js';
import { runHoldingLock } from './reentrancy.js';

export interface Holding<T> {
  readonly dataSource: DataSource;
  readonly connection: LockConnection;
  readonly request: LockRequest;
  readonly waitedMs: number;
  /**
   * On abort while holding: cancel the running statement (a transaction that rolls back anyway),
   * or let the work stop cooperatively at its next step (work that commits step by step).
   */
  readonly cancelStatementOnAbort: boolean;
  /** The protected work. */
  readonly work: (lock: HeldLock) => Promise<T>;
  /** Ends the hold successfully (COMMIT, or unlock); its failure is the call's failure. */
  readonly finish: () => Promise<void>;
}

/**
 * Runs work while the lock is held: builds the HeldLock, links the caller's AbortSignal, and never
 * reports success when the connection (and so the lock) was lost or the caller aborted.
 */
export async function holdLock<T>(holding: Holding<T>): Promise<T> {
  const { connection, request } = holding;
  const { signal, name } = request;
  // The lock may have been granted in the same instant the caller aborted.
  if (signal?.aborted) throw new LockAbortedError(name, 'waiting', { cause: signal.reason });
  // The lock's own signal is made on first use: an AbortController, AbortSignal.any and an abort()
  // with its default DOMException reason cost tens of µs each, on the hand-off's critical path,
  // and most work never looks at the signal.
  let held: AbortController | undefined;
  let combined: AbortSignal | undefined;
  let ended = false;
  const onAbort = () => {
    held?.abort(signal?.reason);
    if (holding.cancelStatementOnAbort) connection.cancelCurrentStatement();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const lock: HeldLock = {
    id: request.id,
    type: request.type,
    key: request.key,
    backendPid: connection.backendPid,
    waitedMs: Math.round(holding.waitedMs),
    acquiredAt: new Date(),
    get signal() {
      if (!combined) {
        held = new AbortController();
        if (signal?.aborted) held.abort(signal.reason);
        else if (ended) held.abort();
        combined = AbortSignal.any([held.signal, connection.lostSignal]);
      }
      return combined;
    },
  };
  try {
    const value = await runHoldingLock(
      { dataSource: holding.dataSource, queryRunner: connection.queryRunner, lock },
      () => holding.work(lock),
    ).catch((error: unknown) => {
      throw holdingFailure(connection, request, error);
    });
    if (connection.lostCause) throw new LockLostError(name, { cause: connection.lostCause });
    if (signal?.aborted) throw new LockAbortedError(name, 'running', { cause: signal.reason });
    await holding.finish().catch((error: unknown) => {
      throw holdingFailure(connection, request, error);
    });
    return value;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    ended = true;
    held?.abort();
  }
}
