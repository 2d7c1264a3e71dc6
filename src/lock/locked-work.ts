import type { DataSource } from 'typeorm';
import type { LockConnection } from '../connection/lock-connection.js';
import type { HeldLock } from './advisory-lock.interfaces.js';
import { endHold, runHoldingLock } from './held-locks.js';
import { abortedWhileWaiting, failureAfterWork, holdingFailure } from './lock-failures.js';
import type { LockRequest } from './lock-request.js';

export interface LockedWorkRun<T> {
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
 * The HeldLock handed to the work. A class, with the signal as a getter on its prototype: this
 * object is built between the grant and the first line of the work, on the hand-off's critical
 * path. The signal is made on first use: an AbortController, AbortSignal.any and an abort() with
 * its default DOMException reason are each costly there (docs/benchmarks.md), and most work never
 * looks at it; `stopping` answers the same question without them.
 */
class ActiveLock implements HeldLock {
  readonly id: string;
  readonly type: string;
  readonly key: HeldLock['key'];
  readonly backendPid: number;
  readonly waitedMs: number;
  readonly acquiredAt = new Date();
  // Private fields: the work may log or serialize the lock; the connection must not show.
  readonly #connection: LockConnection;
  #held: AbortController | undefined;
  #combined: AbortSignal | undefined;
  #ended = false;
  #abortReason: unknown;

  constructor(request: LockRequest, connection: LockConnection, waitedMs: number) {
    this.id = request.id;
    this.type = request.type;
    this.key = request.key;
    this.backendPid = connection.backendPid;
    this.waitedMs = Math.round(waitedMs);
    this.#connection = connection;
  }

  get signal(): AbortSignal {
    if (!this.#combined) {
      this.#held = new AbortController();
      if (this.#ended) this.#held.abort(this.#abortReason);
      this.#combined = AbortSignal.any([this.#held.signal, this.#connection.lostSignal]);
    }
    return this.#combined;
  }

  get stopping(): boolean {
    return this.#ended || this.#connection.lostCause !== undefined;
  }

  /** The caller aborted while the work runs (static: not a method the work can call). */
  static abort(lock: ActiveLock, reason: unknown): void {
    lock.#ended = true;
    lock.#abortReason = reason;
    lock.#held?.abort(reason);
  }

  /** The hold is over: a signal read from now on is already aborted. */
  static end(lock: ActiveLock): void {
    if (lock.#ended) return;
    lock.#ended = true;
    lock.#held?.abort();
  }
}

/**
 * Runs work while the lock is held: builds the HeldLock, links the caller's AbortSignal, and never
 * reports success when the connection (and so the lock) was lost or the caller aborted.
 */
export async function runLockedWork<T>(run: LockedWorkRun<T>): Promise<T> {
  const { connection, request } = run;
  const { signal } = request;
  // The lock may have been granted in the same instant the caller aborted.
  if (signal?.aborted) throw abortedWhileWaiting(request);
  const lock = new ActiveLock(request, connection, run.waitedMs);
  const onAbort = () => {
    ActiveLock.abort(lock, signal?.reason);
    if (run.cancelStatementOnAbort) connection.cancelCurrentStatement();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  const hold = { dataSource: run.dataSource, queryRunner: connection.queryRunner, lock };
  try {
    let value: T;
    try {
      value = await runHoldingLock(hold, () => run.work(lock));
    } catch (error) {
      throw holdingFailure(connection, request, error);
    }
    const failed = failureAfterWork(connection, request);
    if (failed) throw failed;
    try {
      await run.finish();
    } catch (error) {
      throw holdingFailure(connection, request, error);
    }
    return value;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    endHold(hold);
    ActiveLock.end(lock);
  }
}
