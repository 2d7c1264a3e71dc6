import { Injectable, Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { MigrationFailedError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import type { HeldLock } from '../lock/held-lock.js';
import type { PostgresQueryRunner } from '../lock/lock-connection.js';
import { commitOrThrow } from '../lock/lock-transaction.js';
import type {
  MigrationTransactionMode,
  ResolvedMigrationLockOptions,
} from '../module/migration-lock-options.interface.js';
import {
  MigrationStateTracker,
  type MigrationLockEvents,
  type MigrationState,
} from './migration-events.js';
import type { MigrationRunResult } from './migration-run-result.js';
import { pendingMigrationNames } from './pending-migrations.js';

type Migration = Awaited<ReturnType<MigrationExecutor['getPendingMigrations']>>[number];
type LockedMigrationWork = (queryRunner: PostgresQueryRunner, lock: HeldLock) => Promise<string[]>;

const followed = (waitedMs: number): MigrationRunResult => ({
  outcome: 'followed',
  applied: [],
  waitedMs,
  heldMs: 0,
});
export type MigrationRunnerOptions = Pick<
  ResolvedMigrationLockOptions,
  'lockId' | 'lockType' | 'timeoutMs' | 'transaction'
> & { events?: MigrationLockEvents };

/** Whether a migration runs in its own transaction in a step-by-step mode, unless it says otherwise. */
const OWN_TRANSACTION_BY_DEFAULT: Record<Exclude<MigrationTransactionMode, 'all'>, boolean> = {
  each: true,
  none: false,
};

/**
 * Applies pending TypeORM migrations under the migration lock, always on the lock's own
 * connection: in mode `all` inside the lock's transaction (lock and migrations commit or roll back
 * together, with a pool of one), in `each` / `none` under the session-level lock, step by step.
 */
@Injectable()
export class MigrationRunnerService {
  private readonly logger = new Logger('MigrationLock');
  private readonly tracker: MigrationStateTracker;
  private last: MigrationRunResult | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly locks: AdvisoryLockService,
    private readonly options: MigrationRunnerOptions,
  ) {
    this.tracker = new MigrationStateTracker(options.events);
  }

  /** What the last successful run() did, if any. */
  get lastResult(): MigrationRunResult | undefined {
    return this.last;
  }

  /** Where this replica's migration run is now: idle, waiting, migrating, done or failed. */
  get state(): MigrationState {
    return this.tracker.state;
  }

  /**
   * Aborting `signal` while waiting stops the wait; while migrating, `all` rolls everything back and
   * `each` / `none` finish the current migration and stop before the next.
   * @throws MigrationFailedError (names the migration), LockTimeoutError, LockLostError, LockAbortedError
   */
  async run(options: { signal?: AbortSignal } = {}): Promise<MigrationRunResult> {
    try {
      const apply = (queryRunner: PostgresQueryRunner, lock: HeldLock) =>
        this.applyPending(queryRunner, lock);
      if ((await pendingMigrationNames(this.dataSource)).length === 0)
        return this.finish(followed(0));
      const held =
        this.options.transaction === 'all'
          ? await this.holdOrFollow(apply, options.signal)
          : await this.underLock(apply, options.signal);
      if (!held) return this.finish(followed(this.waitedSince()));
      const { applied, waitedMs, heldMs } = held;
      return this.finish({
        outcome: applied.length > 0 ? 'applied' : 'followed',
        applied,
        waitedMs,
        heldMs,
      });
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
  }

  /** Reverts the last applied migration under the same lock; resolves to its name, if there was one. */
  async revert(options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    const { applied } = await this.underLock(async (queryRunner) => {
      const executor = this.executor(queryRunner);
      const [last] = await executor.getExecutedMigrations();
      await executor.undoLastMigration();
      return last ? [last.name] : [];
    }, options.signal);
    return applied[0];
  }

  /** Applied migrations (oldest first) and pending ones, read without the lock. */
  async show(): Promise<{ applied: string[]; pending: string[] }> {
    const executor = new MigrationExecutor(this.dataSource);
    const applied = (await executor.getExecutedMigrations()).map((m) => m.name).reverse();
    return { applied, pending: (await executor.getPendingMigrations()).map((m) => m.name) };
  }

  private waitStartedAt = 0;

  private waitedSince(): number {
    return Math.round(performance.now() - this.waitStartedAt);
  }

  private startWaiting(): string {
    const lockName = `${this.options.lockId}/${this.options.lockType}`;
    this.waitStartedAt = performance.now();
    this.tracker.update('waiting');
    this.tracker.emit('waitStarted', { lock: lockName });
    return lockName;
  }

  /** Marks the lock as held and runs `work`; resolves with how long it was held. */
  private async whileHeld(
    lockName: string,
    queryRunner: QueryRunner,
    lock: HeldLock,
    work: LockedMigrationWork,
  ): Promise<{ applied: string[]; waitedMs: number; heldSince: number }> {
    const heldSince = performance.now();
    const waitedMs = this.waitedSince();
    this.tracker.update('migrating', { waitedMs });
    this.tracker.emit('lockAcquired', { lock: lockName, waitedMs });
    // Re-read under the lock: whoever held it before may have applied everything.
    return { applied: await work(queryRunner as PostgresQueryRunner, lock), waitedMs, heldSince };
  }

  private released(
    lockName: string,
    result: { applied: string[]; waitedMs: number; heldSince: number },
  ) {
    const heldMs = Math.round(performance.now() - result.heldSince);
    this.tracker.emit('lockReleased', { lock: lockName, heldMs });
    return { applied: result.applied, waitedMs: result.waitedMs, heldMs };
  }

  /**
   * Mode `all`: take the lock when it is free; otherwise wait until the holder is done (a shared
   * wait that lets every waiter go at once), and look at the migrations table again. Waiters then
   * follow together instead of being handed the lock one by one. Resolves undefined when followed.
   */
  private async holdOrFollow(work: LockedMigrationWork, signal: AbortSignal | undefined) {
    const { lockId, lockType, timeoutMs } = this.options;
    const lockName = this.startWaiting();
    const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    for (;;) {
      const attempt = await this.locks.tryWithLock(
        lockId,
        lockType,
        (manager, lock) => this.whileHeld(lockName, manager.queryRunner!, lock, work),
        { signal },
      );
      if (attempt.acquired) return this.released(lockName, attempt.value);
      // 0 means "forever" to the server; a spent budget waits 1 ms and times out naming the holder.
      const remaining = timeoutMs === 0 ? 0 : Math.max(1, Math.round(deadline - performance.now()));
      await this.locks.waitUntilFree(lockId, lockType, { timeoutMs: remaining, signal });
      if ((await pendingMigrationNames(this.dataSource)).length === 0) return undefined;
    }
  }

  /** Runs `work` holding the migration lock in the configured mode, waiting in line for it. */
  private async underLock(work: LockedMigrationWork, signal: AbortSignal | undefined) {
    const { lockId, lockType, timeoutMs, transaction } = this.options;
    const lockName = this.startWaiting();
    const held = (queryRunner: QueryRunner, lock: HeldLock) =>
      this.whileHeld(lockName, queryRunner, lock, work);
    const lockOptions = { timeoutMs, signal };
    const result =
      transaction === 'all'
        ? await this.locks.withLock(
            lockId,
            lockType,
            (manager, lock) => held(manager.queryRunner!, lock),
            lockOptions,
          )
        : await this.locks.withSessionLock(lockId, lockType, held, lockOptions);
    return this.released(lockName, result);
  }

  private executor(queryRunner: PostgresQueryRunner): MigrationExecutor {
    const executor = new MigrationExecutor(this.dataSource, queryRunner);
    executor.transaction = this.options.transaction;
    return executor;
  }

  private async applyPending(queryRunner: PostgresQueryRunner, lock: HeldLock): Promise<string[]> {
    const executor = this.executor(queryRunner);
    const pending = await executor.getPendingMigrations();
    this.checkTransactionOverrides(pending);
    const applied: string[] = [];
    for (const migration of pending) {
      // Stop between migrations when aborted (shutdown) or when the lock's connection is gone.
      if (lock.signal.aborted) break;
      const started = performance.now();
      await this.applyOne(executor, queryRunner, migration);
      const durationMs = Math.round(performance.now() - started);
      this.logger.log(`Applied ${migration.name} in ${durationMs} ms`);
      this.tracker.emit('migrationApplied', { name: migration.name, durationMs });
      applied.push(migration.name);
      this.tracker.update('migrating', { applied: [...applied] });
    }
    return applied;
  }

  private async applyOne(
    executor: MigrationExecutor,
    queryRunner: PostgresQueryRunner,
    migration: Migration,
  ) {
    const { transaction } = this.options;
    const ownTransaction =
      transaction !== 'all' &&
      (migration.instance?.transaction ?? OWN_TRANSACTION_BY_DEFAULT[transaction]);
    try {
      if (ownTransaction) await queryRunner.startTransaction();
      await executor.executeMigration(migration);
      if (ownTransaction) await commitOrThrow(queryRunner, migration.name);
    } catch (error) {
      if (ownTransaction && queryRunner.isTransactionActive)
        await queryRunner.rollbackTransaction().catch(() => undefined);
      throw MigrationFailedError.create(migration.name, error);
    }
  }

  /** A migration that opts out of transactions cannot run inside the single `all` transaction. */
  private checkTransactionOverrides(pending: Migration[]): void {
    if (this.options.transaction !== 'all') return;
    const optedOut = pending.find((migration) => migration.instance?.transaction === false);
    if (optedOut) {
      throw new MigrationFailedError(
        optedOut.name,
        messages.transactionOverride(optedOut.name, this.options.transaction),
      );
    }
  }

  private finish(result: MigrationRunResult): MigrationRunResult {
    const lock = `"${this.options.lockId}/${this.options.lockType}"`;
    this.logger.log(
      result.outcome === 'applied'
        ? `Applied ${result.applied.length} migration(s) under lock ${lock} (transaction: ${this.options.transaction}): waited ${result.waitedMs} ms, held ${result.heldMs} ms`
        : `No pending migrations (followed)${result.heldMs ? `: waited ${result.waitedMs} ms for lock ${lock}, held ${result.heldMs} ms` : ''}`,
    );
    this.tracker.update('done', { ...result });
    this.last = result;
    return result;
  }

  private fail(error: Error): void {
    this.tracker.update('failed', {
      error: error.message,
      errorCode: (error as { code?: string }).code,
    });
    this.tracker.emit('failed', { error });
  }
}
