import { Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { traced } from '../telemetry/lock-span.js';
import type {
  AdvisoryLockDefaults,
  HoldResult,
  LockedWork,
  LockMode,
  QueryRunnerWork,
  SessionLockedWork,
  TryLockResult,
  TryWithLockOptions,
  WithLockOptions,
} from './advisory-lock.interfaces.js';
import { connectionSettingsFor, type LockConnectionSettings } from './advisory-lock.sql.js';
import { findHeldLock } from './held-locks.js';
import {
  abortedWhileWaiting,
  lockTimeout,
  notHeldAtRelease,
  waitingFailure,
} from './lock-failures.js';
import {
  resolveLockDefaults,
  tryLockRequest,
  withLockRequest,
  type LockRequest,
} from './lock-request.js';
import { runLockedWork } from './locked-work.js';
import { SessionLock } from './session-lock.js';
import { holdTransactionLock } from './transaction-lock.js';

export type { HoldResult, LockMode, ReadAfterRelease } from './advisory-lock.interfaces.js';

const NOT_ACQUIRED = { acquired: false } as const;

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
    const resolved = resolveLockDefaults(defaults, dataSource);
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
    const request = withLockRequest(id, type, fn, options, this.defaultTimeoutMs);
    const hold = (work: QueryRunnerWork<T>) => this.hold(TRANSACTION_WAIT, request, work);
    return valueOf(await traced(request, onManager(fn), hold));
  }

  /** Runs `fn` under the lock if it is free right now; otherwise returns `{ acquired: false }` at once. */
  tryWithLock<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: TryWithLockOptions,
  ): Promise<TryLockResult<T>> {
    const request = tryLockRequest(id, type, fn, options);
    return traced(request, onManager(fn), (work) => this.hold(TRANSACTION_TRY, request, work));
  }

  /**
   * Runs `fn` under the lock if it is free right now. Otherwise waits (at most `timeoutMs`) until
   * the holder is done, without taking the lock, and resolves `{ acquired: false }`: the caller
   * then looks at what the holder did. Every such waiter is let go at once when the holder ends,
   * and the try and the wait share one connection and one transaction.
   * @throws LockTimeoutError, LockAbortedError, LockLostError, TransactionRolledBackError, InvalidLockArgumentError
   */
  tryWithLockOrWait<T>(
    id: string,
    type: string,
    fn: LockedWork<T>,
    options?: WithLockOptions,
  ): Promise<TryLockResult<T>> {
    const request = withLockRequest(id, type, fn, options, this.defaultTimeoutMs);
    return traced(request, onManager(fn), (work) => this.hold(TRANSACTION_FOLLOW, request, work));
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
    const request = withLockRequest(id, type, fn, options, this.defaultTimeoutMs);
    return valueOf(await traced(request, fn, (work) => this.hold(SESSION_WAIT, request, work)));
  }

  /**
   * The session-level form of tryWithLock: runs `fn` holding the session-level lock if it is free
   * right now (as withSessionLock runs it); otherwise returns `{ acquired: false }` at once.
   * @throws LockAbortedError, LockLostError, InvalidLockArgumentError, SessionLockThroughPoolerError
   */
  trySessionLock<T>(
    id: string,
    type: string,
    fn: SessionLockedWork<T>,
    options?: TryWithLockOptions,
  ): Promise<TryLockResult<T>> {
    const request = tryLockRequest(id, type, fn, options);
    return traced(request, fn, (work) => this.hold(SESSION_TRY, request, work));
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
    const request = withLockRequest(id, type, fn, options, this.defaultTimeoutMs);
    return traced(request, fn, (work) => this.hold(SESSION_FOLLOW, request, work));
  }

  /**
   * @internal The one path of every method above, and the migration runner's entry: a lock this
   * async context already holds runs the work inside it; otherwise the lock is taken in `mode`,
   * and the work runs on the lock's own QueryRunner.
   */
  async hold<T, R = never>(
    mode: LockMode<R>,
    request: LockRequest,
    work: QueryRunnerWork<T>,
  ): Promise<HoldResult<T, R>> {
    if (request.signal?.aborted) throw abortedWhileWaiting(request);
    const outer = findHeldLock(this.dataSource, request.key);
    if (outer) return { acquired: true, value: await work(outer.queryRunner, outer.lock) };
    return mode.form === 'transaction'
      ? holdTransactionLock(this.dataSource, this.settings(), mode, request, work)
      : this.holdSessionLock(mode.whenHeld, request, work);
  }

  private async holdSessionLock<T>(
    whenHeld: 'wait' | 'try' | 'follow',
    request: LockRequest,
    work: QueryRunnerWork<T>,
  ): Promise<TryLockResult<T>> {
    const { timeoutMs, signal } = request;
    const session = new SessionLock(this.sessionDataSource, request, this.settings());
    const started = performance.now();
    // 'ended': finish() released the lock and gave the connection back; it must not be touched again.
    let state: 'waiting' | 'held' | 'ended' = 'waiting';
    try {
      const end = await session.acquire(signal, whenHeld).catch((error: unknown) => {
        throw waitingFailure(session.opened, request, error);
      });
      if (end === 'released' || end === 'busy') return NOT_ACQUIRED;
      if (end === 'aborted') throw abortedWhileWaiting(request);
      if (end === 'timeout') throw await lockTimeout(session.connection, request, timeoutMs);
      state = 'held';
      const value = await runLockedWork({
        dataSource: this.dataSource,
        connection: session.connection,
        request,
        // As the transaction forms: no wait when the first try got the lock.
        waitedMs: end === 'taken' ? 0 : performance.now() - started,
        cancelStatementOnAbort: false,
        work: (lock) => work(session.queryRunner, lock),
        finish: async () => {
          state = 'ended';
          if (!(await session.release())) throw notHeldAtRelease(request);
        },
      });
      return { acquired: true, value };
    } finally {
      if (state === 'held') await session.release();
      else if (state === 'waiting') await session.abandon();
    }
  }

  private connectionSettings: LockConnectionSettings | undefined;

  /** Kept once the DataSource is connected (TypeORM reads the server version then). */
  private settings(): LockConnectionSettings {
    this.connectionSettings ??= connectionSettingsFor(this.dataSource, this.applicationName);
    // Until then, only what every supported server has.
    return (
      this.connectionSettings ?? { ...BASELINE_SETTINGS, applicationName: this.applicationName }
    );
  }
}

const BASELINE_SETTINGS = { postgres14: false, postgres17: false };
const TRANSACTION_WAIT: LockMode = { form: 'transaction', whenHeld: 'wait' };
const TRANSACTION_TRY: LockMode = { form: 'transaction', whenHeld: 'try' };
const TRANSACTION_FOLLOW: LockMode = { form: 'transaction', whenHeld: 'follow' };
const SESSION_WAIT: LockMode = { form: 'session', whenHeld: 'wait' };
const SESSION_TRY: LockMode = { form: 'session', whenHeld: 'try' };
const SESSION_FOLLOW: LockMode = { form: 'session', whenHeld: 'follow' };

/** The transaction forms hand the work the EntityManager of the lock's transaction. */
function onManager<T>(fn: LockedWork<T>): QueryRunnerWork<T> {
  return (queryRunner, lock) => fn(queryRunner.manager, lock);
}

/** A form that waits in line only ends holding the lock. */
function valueOf<T>(result: TryLockResult<T>): T {
  if (!result.acquired) throw new Error('unreachable: the wait only ends with the lock');
  return result.value;
}
