import { Injectable, Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource } from 'typeorm';
import { MigrationFailedError } from '../errors/migration-lock.errors.js';
import { checkAbortSignal, checkTimeoutMs } from '../errors/option-checks.js';
import type { AdvisoryLockService, LockMode } from '../lock/advisory-lock.service.js';
import type { HeldLock } from '../lock/advisory-lock.interfaces.js';
import { answerBoundMs } from '../connection/connection-loss.js';
import type { PostgresQueryRunner } from '../connection/lock-connection.js';
import { lockIdentity, type LockIdentity } from '../lock/lock-key.js';
import { currentTelemetry } from '../telemetry/telemetry.js';
import { MigrationStateTracker, type MigrationState } from './migration-events.js';
import { MigrationRun } from './migration-run.js';
import { describeResult, type MigrationRunResult } from './migration-run-result.js';
import { LOCK_FORM, type MigrationRunnerOptions } from './migration-runner.options.js';
import { assertNoInvalidIndexes } from './invalid-indexes.js';
import { MigrationSteps } from './migration-steps.js';
import { RunTelemetry } from './run-telemetry.js';
import {
  pendingAfterRelease,
  pendingMigrationNames,
  warnIfNoMigrations,
} from './pending-migrations.js';

export type { MigrationRunnerOptions } from './migration-runner.options.js';

type Migration = Awaited<ReturnType<MigrationExecutor['getPendingMigrations']>>[number];

const UP_TO_DATE: MigrationRunResult = { outcome: 'upToDate', applied: [], waitedMs: 0, heldMs: 0 };

/**
 * Applies pending TypeORM migrations under the migration lock, always on the lock's own
 * connection: in mode `all` inside the lock's transaction (lock and migrations commit or roll back
 * together, with a pool of one), in `each` / `none` under the session-level lock, step by step.
 */
@Injectable()
export class MigrationRunnerService {
  private readonly logger = new Logger('MigrationLock');
  private readonly tracker: MigrationStateTracker;
  private readonly lock: LockIdentity;
  /** `"id/type"`, as events and logs name the lock. */
  private readonly lockName: string;
  /** How run() waits for a holder: in mode `all` with the migrations table read in the same round trip. */
  private readonly follow: LockMode<string[]>;
  private last: MigrationRunResult | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly locks: AdvisoryLockService,
    private readonly options: MigrationRunnerOptions,
  ) {
    this.tracker = new MigrationStateTracker(options.events);
    // Looked for now, while the app starts, rather than on the run's path.
    void currentTelemetry();
    // Checked here too: the runner can be made without the module, and must fail before any SQL.
    this.lock = lockIdentity(options.lockId, options.lockType);
    checkTimeoutMs('MigrationRunnerService', 'timeoutMs', options.timeoutMs);
    this.lockName = `${options.lockId}/${options.lockType}`;
    this.follow =
      options.transaction === 'all'
        ? {
            form: 'transaction',
            whenHeld: 'follow',
            readAfterRelease: pendingAfterRelease(dataSource),
          }
        : { form: 'session', whenHeld: 'follow' };
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
   * Applies what is pending, or follows the replica that does. Nothing pending: no lock at all.
   * Otherwise the lock is taken when free; when held, this replica waits until the holder is done
   * (without taking the lock: every waiter is let go at once) and looks at the migrations table
   * again, in mode `all` in the round trip that ends the wait.
   * Aborting `signal` while waiting stops the wait; while migrating, `all` rolls everything back and
   * `each` / `none` finish the current migration and stop before the next.
   * @throws MigrationFailedError (names the migration), LockTimeoutError, LockLostError, LockAbortedError
   */
  async run(options: { signal?: AbortSignal } = {}): Promise<MigrationRunResult> {
    const signal = checkAbortSignal('run', options.signal);
    const telemetry = await this.runTelemetry();
    if (!telemetry) return this.runOnce(signal, undefined);
    return telemetry.within(() => this.runOnce(signal, telemetry));
  }

  private async runOnce(
    signal: AbortSignal | undefined,
    telemetry: RunTelemetry | undefined,
  ): Promise<MigrationRunResult> {
    const { timeoutMs } = this.options;
    const answerWithinMs = answerBoundMs(timeoutMs);
    let run: MigrationRun | undefined;
    try {
      warnIfNoMigrations(this.dataSource, this.logger);
      const pendingAtStart = await pendingMigrationNames(this.dataSource, answerWithinMs);
      telemetry?.pending(pendingAtStart.length);
      if (pendingAtStart.length === 0) return this.finish(UP_TO_DATE, telemetry);
      run = new MigrationRun(this.tracker, this.lockName, telemetry);
      // One timeout budget for every round: apply, or follow the holder and look again.
      const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
      for (;;) {
        // 0 means "forever" to the server; a spent budget waits 1 ms and times out naming the holder.
        const remaining =
          timeoutMs === 0 ? 0 : Math.max(1, Math.round(deadline - performance.now()));
        const attempt = await this.locks.hold(
          this.follow,
          { ...this.lock, signal, timeoutMs: remaining },
          (queryRunner, lock) => this.applyPending(run!, queryRunner as PostgresQueryRunner, lock),
        );
        if (attempt.acquired) return this.finish(run.released(attempt.value), telemetry);
        const pending =
          attempt.read ?? (await pendingMigrationNames(this.dataSource, answerWithinMs));
        if (pending.length === 0) return this.finish(run.followed(), telemetry);
        run.waitsAgain();
      }
    } catch (error) {
      run?.failed(error);
      this.fail(error as Error);
      telemetry?.ended(undefined, error);
      throw error;
    }
  }

  /** The run's spans and metrics when OpenTelemetry is installed. */
  private async runTelemetry(): Promise<RunTelemetry | undefined> {
    const telemetry = await currentTelemetry();
    if (!telemetry) return undefined;
    const { database } = this.dataSource.driver as { database?: string };
    const { transaction: mode } = this.options;
    return new RunTelemetry(telemetry, { lock: this.lock, mode, database });
  }

  /** Reverts the last applied migration under the same lock; resolves to its name, if there was one. */
  async revert(options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    const signal = checkAbortSignal('revert', options.signal);
    const run = new MigrationRun(this.tracker, this.lockName);
    const { timeoutMs } = this.options;
    try {
      const { value } = (await this.locks.hold(
        { form: LOCK_FORM[this.options.transaction], whenHeld: 'wait' },
        { ...this.lock, signal, timeoutMs },
        (queryRunner) => this.revertLast(run, queryRunner as PostgresQueryRunner),
      )) as { value: string[] };
      return run.released(value).applied[0];
    } catch (error) {
      run.failed(error);
      throw error;
    }
  }

  /** Applied migrations (oldest first) and pending ones, read without the lock. */
  async show(): Promise<{ applied: string[]; pending: string[] }> {
    const executor = new MigrationExecutor(this.dataSource);
    const applied = (await executor.getExecutedMigrations()).map((m) => m.name).reverse();
    return { applied, pending: (await executor.getPendingMigrations()).map((m) => m.name) };
  }

  private executor(queryRunner: PostgresQueryRunner): MigrationExecutor {
    const executor = new MigrationExecutor(this.dataSource, queryRunner);
    executor.transaction = this.options.transaction;
    return executor;
  }

  private async revertLast(run: MigrationRun, queryRunner: PostgresQueryRunner): Promise<string[]> {
    run.held();
    const executor = this.executor(queryRunner);
    const [last] = await executor.getExecutedMigrations();
    await executor.undoLastMigration();
    return last ? [last.name] : [];
  }

  private async applyPending(
    run: MigrationRun,
    queryRunner: PostgresQueryRunner,
    lock: HeldLock,
  ): Promise<string[]> {
    run.held(lock.waitedMs === 0);
    const steps = new MigrationSteps(this.executor(queryRunner), this.dataSource);
    // Re-read under the lock: whoever held it before may have applied everything.
    const { pending, tableExists } = await steps.pending(queryRunner);
    steps.refuseOptedOut(pending);
    if (pending.length === 0) return [];
    // An interrupted CREATE INDEX CONCURRENTLY of an earlier holder: say so before anything runs.
    // Without a migrations table no earlier run got that far (the table is made, and committed in
    // the step-by-step modes, before a first migration): a fresh database skips the catalog query.
    if (tableExists) await assertNoInvalidIndexes(queryRunner);
    // As TypeORM's executeMigration() did, a failure here is the first migration's.
    await steps.prepareTables(queryRunner, tableExists).catch((error: unknown) => {
      throw MigrationFailedError.create(pending[0].name, error);
    });
    const applied: Migration[] = [];
    for (const migration of pending) {
      // Stop between migrations when aborted (shutdown) or when the lock's connection is gone.
      if (lock.stopping) break;
      const started = performance.now();
      await run.applying(migration.name, () => steps.apply(queryRunner, migration));
      const durationMs = Math.round(performance.now() - started);
      this.logger.log(`Applied ${migration.name} in ${durationMs} ms`);
      this.tracker.emit('migrationApplied', { name: migration.name, durationMs });
      applied.push(migration);
      this.tracker.migrationApplied(migration.name);
    }
    // Mode all: one statement records the run; it commits with the lock's transaction.
    if (this.options.transaction === 'all') await steps.record(queryRunner, applied);
    return applied.map((m) => m.name);
  }

  private finish(result: MigrationRunResult, telemetry: RunTelemetry | undefined) {
    this.logger.log(describeResult(result, this.lockName, this.options.transaction));
    this.tracker.update('done', { ...result });
    this.last = result;
    telemetry?.ended(result);
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
