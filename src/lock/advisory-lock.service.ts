import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { LockAbortedError, LockLostError } from '../errors/migration-lock.errors.js';
import type { LockConnectionSettings } from './advisory-lock.sql.js';
import type {
  AdvisoryLockDefaults,
  LockedWork,
  SessionLockedWork,
  TryLockResult,
  TryWithLockOptions,
  WithLockOptions,
} from './advisory-lock.interfaces.js';
import { runLockedWork } from './locked-work.js';
import { lockTimeout, transactionWaitFailure, waitingFailure } from './lock-failures.js';
import {
  createLockRequest,
  resolveLockDefaults,
  resolveTryWithLockOptions,
  resolveWithLockOptions,
  type LockRequest,
} from './lock-request.js';
import { TransactionLock } from './transaction-lock.js';
import { findHeldLock } from './reentrancy.js';
import { SessionLock } from './session-lock.js';

/**
 * Runs work under a PostgreSQL advisory lock, on the one connection that holds the lock.
 * Interoperates with hyperfleet-api's Go implementation: the same (id, type) is the same lock, and
 * the transaction-level and session-level forms of one key exclude each other.
 */
@Injectable()
export class AdvisoryLockService {
  private readonly defaultTimeoutMs: number;
  private readonly applicationName: string;
  /** Where the session-level forms take their connection: a direct one when given. */
  private readonly sessionDataSource: DataSource;

  constructor(
    private readonly dataSource: DataSource,
    defaults: AdvisoryLockDefaults = {},
  ) {
    const own = (dataSource.options as { applicationName?: unknown }).applicationName;
    const resolved = resolveLockDefaults(
      defaults,
      typeof own === 'string' && own ? own : undefined,
    );
    this.defaultTimeoutMs = resolved.timeoutMs;
    this.applicationName = resolved.applicationName;
    this.sessionDataSource = resolved.sessionDataSource ?? dataSource;
  }

  /**
   * Waits for `pg_advisory_xact_lock` (at most `timeoutMs`), runs `fn` inside the lock's
   * transaction, commits. Any error rolls back. Nested calls for a lock this async context already
   * holds run inside it.
   * @throws LockTimeoutError, LockAbortedError, LockLostError, TransactionRolledBackError, InvalidLockArgumentError
   */
  async withLock<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: WithLockOptions,
  ): Promise<T> {
    const request = createLockRequest(id, type, fn, options?.signal);
    const { timeoutMs } = resolveWithLockOptions(options, this.defaultTimeoutMs);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return fn(outer.queryRunner.manager, outer.lock);

    const tx = await TransactionLock.open(this.dataSource, request.name);
    try {
      const started = performance.now();
      try {
        await tx.acquire(request.key, timeoutMs, this.settings(), request.signal);
      } catch (error) {
        throw await transactionWaitFailure(tx, request, timeoutMs, error);
      }
      return await this.holdTransaction(tx, request, performance.now() - started, fn);
    } finally {
      await tx.close();
    }
  }

  /** Runs `fn` under the lock if it is free right now; otherwise returns `{ acquired: false }` at once. */
  async tryWithLock<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: TryWithLockOptions,
  ): Promise<TryLockResult<T>> {
    const { signal } = resolveTryWithLockOptions(options);
    const request = createLockRequest(id, type, fn, signal);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return { acquired: true, value: await fn(outer.queryRunner.manager, outer.lock) };

    const tx = await TransactionLock.open(this.dataSource, request.name);
    try {
      if (!(await tx.tryAcquire(request.key, this.settings()))) return { acquired: false };
      return { acquired: true, value: await this.holdTransaction(tx, request, 0, fn) };
    } finally {
      await tx.close();
    }
  }

  /**
   * Runs `fn` under the lock if it is free right now. Otherwise waits (at most `timeoutMs`) until
   * the holder is done, without taking the lock, and resolves `{ acquired: false }`: the caller
   * then looks at what the holder did. Every such waiter is let go at once when the holder ends,
   * and the try and the wait share one connection and one transaction.
   * @throws LockTimeoutError, LockAbortedError, LockLostError, TransactionRolledBackError, InvalidLockArgumentError
   */
  async tryWithLockOrWait<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: WithLockOptions,
  ): Promise<TryLockResult<T>> {
    const request = createLockRequest(id, type, fn, options?.signal);
    const { timeoutMs } = resolveWithLockOptions(options, this.defaultTimeoutMs);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return { acquired: true, value: await fn(outer.queryRunner.manager, outer.lock) };

    const tx = await TransactionLock.open(this.dataSource, request.name);
    try {
      if (await tx.tryAcquire(request.key, this.settings())) {
        return { acquired: true, value: await this.holdTransaction(tx, request, 0, fn) };
      }
      try {
        await tx.awaitRelease(request.key, timeoutMs, request.signal);
      } catch (error) {
        throw await transactionWaitFailure(tx, request, timeoutMs, error);
      }
      return { acquired: false };
    } finally {
      await tx.close();
    }
  }

  /**
   * Holds the session-level form of the lock (`pg_advisory_lock`) on a dedicated connection and
   * runs `fn` on that connection's QueryRunner outside any transaction, for work that manages its
   * own transactions (e.g. `CREATE INDEX CONCURRENTLY`). Waiting never blocks in a lock statement:
   * it is woken by the holder's NOTIFY at release, with a slow poll as the fallback. Aborting while
   * holding fires `lock.signal`: `fn` should stop at its next step. The connection goes back to the
   * pool reset (DISCARD ALL).
   * @throws LockTimeoutError, LockAbortedError, LockLostError, InvalidLockArgumentError
   */
  async withSessionLock<T>(
    id: string,
    type: string,
    fn: SessionLockedWork<T>,
    options?: WithLockOptions,
  ): Promise<T> {
    const result = await this.sessionHold(id, type, fn, options, false);
    if (!result.acquired) throw new Error('unreachable: the wait only ends with the lock');
    return result.value;
  }

  /**
   * The session-level form of tryWithLockOrWait: runs `fn` holding the session-level lock if it is
   * free now or becomes free on the slow poll; when the holder announces its release, resolves
   * `{ acquired: false }` instead of competing for the lock, so that every waiter first looks at
   * what the holder did (and most need not take the lock at all).
   * @throws LockTimeoutError, LockAbortedError, LockLostError, InvalidLockArgumentError
   */
  withSessionLockOrWait<T>(
    id: string,
    type: string,
    fn: SessionLockedWork<T>,
    options?: WithLockOptions,
  ): Promise<TryLockResult<T>> {
    return this.sessionHold(id, type, fn, options, true);
  }

  private async sessionHold<T>(
    id: string,
    type: string,
    fn: SessionLockedWork<T>,
    options: WithLockOptions | undefined,
    stopOnRelease: boolean,
  ): Promise<TryLockResult<T>> {
    const request = createLockRequest(id, type, fn, options?.signal);
    const { timeoutMs } = resolveWithLockOptions(options, this.defaultTimeoutMs);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return { acquired: true, value: await fn(outer.queryRunner, outer.lock) };

    const session = await SessionLock.open(this.sessionDataSource, request.key, request.name);
    const started = performance.now();
    // 'ended': finish() released the lock and gave the connection back; it must not be touched again.
    let state: 'waiting' | 'held' | 'ended' = 'waiting';
    try {
      const end = await session
        .acquire(timeoutMs, this.settings(), request.signal, stopOnRelease)
        .catch((error: unknown) => {
          throw waitingFailure(session.connection, request, error);
        });
      if (end === 'released') return { acquired: false };
      if (end === 'aborted')
        throw new LockAbortedError(request.name, 'waiting', { cause: request.signal?.reason });
      if (end === 'timeout') throw await lockTimeout(session.connection, request, timeoutMs);
      state = 'held';
      const value = await runLockedWork({
        dataSource: this.dataSource,
        connection: session.connection,
        request,
        waitedMs: performance.now() - started,
        cancelStatementOnAbort: false,
        work: (lock) => fn(session.queryRunner, lock),
        finish: async () => {
          state = 'ended';
          if (!(await session.release())) throw new LockLostError(request.name);
        },
      });
      return { acquired: true, value };
    } finally {
      if (state === 'held') await session.release();
      else if (state === 'waiting') await session.abandon();
    }
  }

  private connectionSettings: LockConnectionSettings | undefined;

  /** Known once the DataSource is connected (TypeORM reads the server version then). */
  private settings(): LockConnectionSettings {
    const version = (this.dataSource.driver as { version?: string }).version;
    this.connectionSettings ??= version
      ? { applicationName: this.applicationName, postgres14: Number.parseInt(version, 10) >= 14 }
      : undefined;
    return this.connectionSettings ?? { applicationName: this.applicationName, postgres14: false };
  }

  private holdTransaction<T>(
    tx: TransactionLock,
    request: LockRequest,
    waitedMs: number,
    fn: LockedWork<T>,
  ) {
    return runLockedWork({
      dataSource: this.dataSource,
      connection: tx.connection,
      request,
      waitedMs,
      cancelStatementOnAbort: true,
      work: (lock) => fn(tx.queryRunner.manager, lock),
      finish: () => tx.commit(),
    });
  }
}
