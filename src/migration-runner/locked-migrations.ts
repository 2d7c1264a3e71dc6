import type { Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource } from 'typeorm';
import { MigrationFailedError } from '../errors/migration.errors.js';
import type { AdvisoryLockService, LockMode } from '../lock/advisory-lock.service.js';
import type { HeldLock } from '../lock/advisory-lock.interfaces.js';
import type { PostgresQueryRunner } from '../connection/lock-connection.js';
import type { LockIdentity } from '../lock/lock-key.js';
import type { MigrationStateTracker } from './migration-events.js';
import type { MigrationHistory } from './migration-history.js';
import type { MigrationRun } from './migration-run.js';
import type { MigrationRunResult } from './migration-run-result.js';
import { LOCK_FORM, type MigrationRunnerOptions } from './migration-runner.options.js';
import { assertNoInvalidIndexes } from './invalid-indexes.js';
import { MigrationSteps, type AppliedMigration } from './migration-steps.js';
import { pendingAfterRelease, pendingMigrationNames } from './pending-migrations.js';

/** The migration whose attempt failed, and how long it ran: its history row. */
type FailedRun = { name: string; durationMs: number };

/** What the runner shares with the part of a run that takes the lock. */
export interface LockedMigrationsContext {
  readonly dataSource: DataSource;
  readonly locks: AdvisoryLockService;
  readonly options: MigrationRunnerOptions;
  readonly lock: LockIdentity;
  readonly history: MigrationHistory;
  readonly tracker: MigrationStateTracker;
  readonly logger: Pick<Logger, 'log' | 'warn'>;
}

/**
 * The part of a run that takes the lock, apart from the runner: a replica that finds nothing
 * pending never calls (nor compiles) any of it. Migrations run on the lock's own connection: in
 * mode `all` inside the lock's transaction, in `each` / `none` under the session-level lock, step
 * by step.
 */
export class LockedMigrations {
  /** How a run waits for a holder: in mode `all` with the migrations table read in the same round trip. */
  private readonly follow: LockMode<string[]>;

  constructor(private readonly context: LockedMigrationsContext) {
    this.follow =
      context.options.transaction === 'all'
        ? {
            form: 'transaction',
            whenHeld: 'follow',
            readAfterRelease: pendingAfterRelease(context.dataSource),
          }
        : { form: 'session', whenHeld: 'follow' };
  }

  /**
   * Applies what is pending, or follows the replica that does, within one timeout budget for every
   * round. A migration's failed attempt is recorded in the history after its rollback.
   */
  async applyOrFollow(
    run: MigrationRun,
    signal: AbortSignal | undefined,
    answerWithinMs: number,
  ): Promise<MigrationRunResult> {
    const { dataSource, locks, options, lock } = this.context;
    const { timeoutMs } = options;
    const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    const failure: { run?: FailedRun } = {};
    try {
      for (;;) {
        // 0 means "forever" to the server; a spent budget waits 1 ms and times out naming the holder.
        const remaining =
          timeoutMs === 0 ? 0 : Math.max(1, Math.round(deadline - performance.now()));
        const attempt = await locks.hold(
          this.follow,
          { ...lock, signal, timeoutMs: remaining },
          (queryRunner, held) =>
            this.applyPending(run, queryRunner as PostgresQueryRunner, held, failure),
        );
        if (attempt.acquired) return run.released(attempt.value);
        const pending = attempt.read ?? (await pendingMigrationNames(dataSource, answerWithinMs));
        if (pending.length === 0) return run.followed();
        run.waitsAgain();
      }
    } catch (error) {
      if (failure.run) await this.recordFailure(failure.run, error);
      throw error;
    }
  }

  /** A failed attempt's history row, after its rollback; best effort: the run's error stands. */
  private async recordFailure(failed: FailedRun, error: unknown): Promise<void> {
    const { history, locks, options, logger } = this.context;
    try {
      await history.recordFailure(locks, { ...failed, error }, options.timeoutMs);
    } catch (recordError) {
      logger.warn(
        `Could not record the failed attempt of ${failed.name} in the history: ${(recordError as Error).message}`,
      );
    }
  }

  /** Reverts the last applied migration under the lock; resolves to its name, if there was one. */
  async revert(run: MigrationRun, signal: AbortSignal | undefined): Promise<string | undefined> {
    const { locks, options, lock } = this.context;
    const { value } = (await locks.hold(
      { form: LOCK_FORM[options.transaction], whenHeld: 'wait' },
      { ...lock, signal, timeoutMs: options.timeoutMs },
      (queryRunner) => this.revertLast(run, queryRunner as PostgresQueryRunner),
    )) as { value: string[] };
    return run.released(value).applied[0];
  }

  private executor(queryRunner: PostgresQueryRunner): MigrationExecutor {
    const executor = new MigrationExecutor(this.context.dataSource, queryRunner);
    executor.transaction = this.context.options.transaction;
    return executor;
  }

  private async revertLast(run: MigrationRun, queryRunner: PostgresQueryRunner): Promise<string[]> {
    run.held();
    const executor = this.executor(queryRunner);
    const [last] = await executor.getExecutedMigrations();
    await executor.undoLastMigration();
    if (!last) return [];
    // In mode all inside the revert's transaction; in each / none after TypeORM committed it.
    const { history } = this.context;
    const reverted = history.revertedRowSql(last.name);
    if (reverted) await queryRunner.query(`${history.ensureTableSql()}; ${reverted}`);
    return [last.name];
  }

  private async applyPending(
    run: MigrationRun,
    queryRunner: PostgresQueryRunner,
    lock: HeldLock,
    failure: { run?: FailedRun },
  ): Promise<string[]> {
    const { dataSource, history, tracker, logger, options } = this.context;
    run.held(lock.waitedMs === 0);
    const steps = new MigrationSteps(this.executor(queryRunner), dataSource, history);
    // Re-read under the lock: whoever held it before may have applied everything.
    const { pending, tableExists, historyExists } = await steps.pending(queryRunner);
    steps.refuseOptedOut(pending);
    if (pending.length === 0) return [];
    // Their checksums, taken in one pass (one recording runner) before the first one runs.
    if (history.table) await history.captureAll(pending);
    // An interrupted CREATE INDEX CONCURRENTLY of an earlier holder: say so before anything runs.
    // Without a migrations table no earlier run got that far (the table is made, and committed in
    // the step-by-step modes, before a first migration): a fresh database skips the catalog query.
    if (tableExists) await assertNoInvalidIndexes(queryRunner);
    // As TypeORM's executeMigration() did, a failure here is the first migration's.
    await steps
      .prepareTables(queryRunner, { tableExists, historyExists })
      .catch((error: unknown) => {
        throw MigrationFailedError.create(pending[0].name, error);
      });
    const applied: AppliedMigration[] = [];
    for (const migration of pending) {
      // Stop between migrations when aborted (shutdown) or when the lock's connection is gone.
      if (lock.stopping) break;
      const started = performance.now();
      const done = await run
        .applying(migration.name, () => steps.apply(queryRunner, migration))
        .catch((error: unknown) => {
          if (error instanceof MigrationFailedError)
            failure.run = { name: migration.name, durationMs: performance.now() - started };
          throw error;
        });
      const durationMs = Math.round(performance.now() - started);
      logger.log(`Applied ${migration.name} in ${durationMs} ms`);
      tracker.emit('migrationApplied', { name: migration.name, durationMs });
      applied.push(done);
      tracker.migrationApplied(migration.name);
    }
    // Mode all: one statement records the run; it commits with the lock's transaction.
    if (options.transaction === 'all') await steps.record(queryRunner, applied);
    return applied.map(({ migration }) => migration.name);
  }
}
