import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import {
  InvalidLockArgumentError,
  LockAbortedError,
  LockLostError,
  LockTimeoutError,
} from '../errors/migration-lock.errors.js';
import { isConnectionLoss, sqlState } from './connection-loss.js';
import { describeLock, type HeldLock, type LockedWork, type TryLockResult } from './held-lock.js';
import { findLockHolders } from './lock-holders.js';
import { advisoryLockKey, type AdvisoryLockKey } from './lock-key.js';
import {
  DEFAULT_LOCK_TIMEOUT_MS,
  resolveTryWithLockOptions,
  resolveWithLockOptions,
  type AdvisoryLockDefaults,
  type TryWithLockOptions,
  type WithLockOptions,
} from './lock-options.js';
import { LockTransaction } from './lock-transaction.js';
import { findHeldLock, runHoldingLock } from './reentrancy.js';

const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';

interface LockRequest {
  readonly id: string;
  readonly type: string;
  readonly key: AdvisoryLockKey;
  readonly name: string;
  readonly signal: AbortSignal | undefined;
}

/**
 * Runs work under a PostgreSQL transaction-level advisory lock (`pg_advisory_xact_lock`), on the
 * one connection and transaction that holds the lock. Interoperates with hyperfleet-api's Go
 * implementation: the same (id, type) is the same lock.
 */
@Injectable()
export class AdvisoryLockService {
  private readonly defaultTimeoutMs: number;

  constructor(
    private readonly dataSource: DataSource,
    defaults: AdvisoryLockDefaults = {},
  ) {
    this.defaultTimeoutMs = resolveWithLockOptions(defaults, DEFAULT_LOCK_TIMEOUT_MS).timeoutMs;
  }

  /**
   * Waits for the lock (at most `timeoutMs`), runs `fn` inside the lock's transaction, commits.
   * Any error rolls back. Nested calls for a lock this async context already holds run inside it.
   * @throws LockTimeoutError, LockAbortedError, LockLostError, InvalidLockArgumentError
   */
  async withLock<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: WithLockOptions,
  ): Promise<T> {
    const request = this.request(id, type, fn, options?.signal);
    const { timeoutMs } = resolveWithLockOptions(options, this.defaultTimeoutMs);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return fn(outer.manager, outer.lock);

    const tx = await LockTransaction.open(this.dataSource, request.name);
    try {
      const started = performance.now();
      try {
        await tx.acquire(request.key, timeoutMs, request.signal);
      } catch (error) {
        throw await this.waitFailure(tx, request, timeoutMs, error);
      }
      return await this.runHolding(tx, request, performance.now() - started, fn);
    } finally {
      await tx.close();
    }
  }

  /**
   * Runs `fn` under the lock if it is free right now; otherwise returns `{ acquired: false }` at once.
   */
  async tryWithLock<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: TryWithLockOptions,
  ): Promise<TryLockResult<T>> {
    const { signal } = resolveTryWithLockOptions(options);
    const request = this.request(id, type, fn, signal);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return { acquired: true, value: await fn(outer.manager, outer.lock) };

    const tx = await LockTransaction.open(this.dataSource, request.name);
    try {
      if (!(await tx.tryAcquire(request.key))) return { acquired: false };
      return { acquired: true, value: await this.runHolding(tx, request, 0, fn) };
    } finally {
      await tx.close();
    }
  }

  /** Checks everything that can be checked before any SQL runs. */
  private request(
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

  private async runHolding<T>(
    tx: LockTransaction,
    request: LockRequest,
    waitedMs: number,
    fn: LockedWork<T>,
  ): Promise<T> {
    const { signal, name } = request;
    // The lock may have been granted in the same instant the caller aborted.
    if (signal?.aborted) throw new LockAbortedError(name, 'waiting', { cause: signal.reason });
    const held = new AbortController();
    const onAbort = () => {
      held.abort(signal?.reason);
      tx.connection.cancelCurrentStatement();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const lock: HeldLock = {
      id: request.id,
      type: request.type,
      key: request.key,
      backendPid: tx.connection.backendPid,
      waitedMs: Math.round(waitedMs),
      acquiredAt: new Date(),
      signal: AbortSignal.any([held.signal, tx.connection.lostSignal]),
    };
    try {
      const value = await runHoldingLock(
        { dataSource: this.dataSource, manager: tx.queryRunner.manager, lock },
        () => fn(tx.queryRunner.manager, lock),
      ).catch((error: unknown) => {
        throw this.holdingFailure(tx, request, error);
      });
      this.throwIfLostOrAborted(tx, request);
      await tx.commit().catch((error: unknown) => {
        throw this.holdingFailure(tx, request, error);
      });
      return value;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      held.abort();
    }
  }

  /** Maps an error seen while holding the lock: a lost connection always wins, then an abort. */
  private holdingFailure(tx: LockTransaction, request: LockRequest, error: unknown): unknown {
    if (tx.connection.lostCause || isConnectionLoss(error)) {
      return new LockLostError(request.name, { cause: tx.connection.lostCause ?? error });
    }
    if (request.signal?.aborted)
      return new LockAbortedError(request.name, 'running', { cause: error });
    return error;
  }

  private throwIfLostOrAborted(tx: LockTransaction, request: LockRequest): void {
    if (tx.connection.lostCause)
      throw new LockLostError(request.name, { cause: tx.connection.lostCause });
    if (request.signal?.aborted) {
      throw new LockAbortedError(request.name, 'running', { cause: request.signal.reason });
    }
  }

  private async waitFailure(
    tx: LockTransaction,
    request: LockRequest,
    timeoutMs: number,
    error: unknown,
  ): Promise<unknown> {
    const code = sqlState(error);
    if (request.signal?.aborted && (code === QUERY_CANCELED || !tx.connection.lostCause)) {
      return new LockAbortedError(request.name, 'waiting', { cause: error });
    }
    if (code !== LOCK_NOT_AVAILABLE) return error;
    // The transaction is aborted; roll back before asking who holds the lock.
    await tx.queryRunner.rollbackTransaction();
    const [holder] = await findLockHolders(tx.queryRunner, request.key).catch(() => []);
    return new LockTimeoutError(request.name, timeoutMs, holder, { cause: error });
  }
}
