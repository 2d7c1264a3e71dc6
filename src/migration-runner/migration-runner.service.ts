import { Injectable, Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource } from 'typeorm';
import { InvalidOptionsError, MigrationFailedError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { checkAbortSignal, checkTimeoutMs } from '../errors/option-checks.js';
import { FAILING_KINDS, type DriftFinding } from '../history/drift.js';
import { resolveHistoryTable, resolveValidate } from '../history/history-options.js';
import type { AdvisoryLockService, LockMode } from '../lock/advisory-lock.service.js';
import type { HeldLock } from '../lock/advisory-lock.interfaces.js';
import { answerBoundMs } from '../connection/connection-loss.js';
import type { PostgresQueryRunner } from '../connection/lock-connection.js';
import { lockIdentity, type LockIdentity } from '../lock/lock-key.js';
import { currentTelemetry } from '../telemetry/telemetry.js';
import {
  MigrationStateTracker,
  type MigrationState,
  type TenantsState,
} from './migration-events.js';
import { dryRun, type DryRunResult } from './dry-run.js';
import { historyReport, type MigrationHistoryReport } from './history-report.js';
import { MigrationHistory } from './migration-history.js';
import { MigrationRun } from './migration-run.js';
import { describeResult, type MigrationRunResult } from './migration-run-result.js';
import { LOCK_FORM, type MigrationRunnerOptions } from './migration-runner.options.js';
import { assertNoInvalidIndexes } from './invalid-indexes.js';
import { MigrationSteps, type AppliedMigration } from './migration-steps.js';
import { RunTelemetry } from './run-telemetry.js';
import { RunValidation } from './run-validation.js';
import {
  notApplied,
  pendingAfterRelease,
  pendingMigrationNames,
  warnIfNoMigrations,
} from './pending-migrations.js';

export type { MigrationRunnerOptions } from './migration-runner.options.js';
export type { DryRunResult } from './dry-run.js';
export type {
  ChecksumStatus,
  FailedAttempt,
  HistoryEntry,
  MigrationHistoryReport,
} from './history-report.js';

/** What `validate()` found: every finding, and whether a CI check passes (no changed, missing, out of order). */
export interface ValidationResult {
  readonly findings: readonly DriftFinding[];
  readonly clean: boolean;
}

/** The migration whose attempt failed, and how long it ran: its history row. */
type FailedRun = { name: string; durationMs: number };

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
  private readonly migrationHistory: MigrationHistory;
  private readonly validation: RunValidation;
  private validated: Promise<void> = Promise.resolve();

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
    this.migrationHistory = new MigrationHistory(
      dataSource,
      resolveHistoryTable('MigrationRunnerService', options.historyTable),
      options.transaction,
    );
    this.validation = new RunValidation(
      this.migrationHistory,
      resolveValidate('MigrationRunnerService', options.validate),
      { logger: this.logger, tracker: this.tracker, locks, timeoutMs: options.timeoutMs },
    );
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

  /**
   * Where this replica's migration run is now: idle, waiting, migrating, done or failed; with the
   * module option `tenants`, what its last tenant run ended with (`tenants`, failures included).
   */
  get state(): MigrationState {
    return this.tracker.state;
  }

  /** @internal The tenant service reports each finished run here, for `state.tenants`. */
  noteTenants(tenants: TenantsState): void {
    this.tracker.tenantsDone(tenants);
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
    const failure: { run?: FailedRun } = {};
    try {
      warnIfNoMigrations(this.dataSource, this.logger);
      const applied = await this.validation.before(answerWithinMs);
      const pendingAtStart = applied
        ? notApplied(this.dataSource, applied)
        : await pendingMigrationNames(this.dataSource, answerWithinMs);
      telemetry?.pending(pendingAtStart.length);
      // Checks that only warn run once the run is done, off the path to ready.
      const finish = (result: MigrationRunResult) => {
        this.validateAfter(pendingAtStart);
        return this.finish(result, telemetry);
      };
      if (pendingAtStart.length === 0) return finish(UP_TO_DATE);
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
          (queryRunner, lock) =>
            this.applyPending(run!, queryRunner as PostgresQueryRunner, lock, failure),
        );
        if (attempt.acquired) return finish(run.released(attempt.value));
        const pending =
          attempt.read ?? (await pendingMigrationNames(this.dataSource, answerWithinMs));
        if (pending.length === 0) return finish(run.followed());
        run.waitsAgain();
      }
    } catch (error) {
      run?.failed(error);
      if (failure.run) await this.recordFailure(failure.run, error);
      this.fail(error as Error);
      telemetry?.ended(undefined, error);
      throw error;
    }
  }

  /**
   * Validation after a run (checks that only warn): in the background, its outcome logged; a
   * failure of its own (the app shutting down, the database gone) is logged, never thrown.
   */
  private validateAfter(pendingAtStart: readonly string[]): void {
    this.validated = this.validation.after(pendingAtStart).catch((error: unknown) => {
      const message = `The migration history was not checked: ${(error as Error).message}`;
      // Destroyed right after run() (a script, a test): nothing went wrong that matters here.
      if (this.dataSource.isInitialized) this.logger.warn(message);
      else this.logger.debug(message);
    });
  }

  /**
   * Settles when the last run's validation is done, if it ran after the run (checks that only
   * warn do, off the replica's path to ready): the CLI waits for it before it exits, and the
   * module before the app shuts down. Never rejects.
   */
  get validationDone(): Promise<void> {
    return this.validated;
  }

  /** A failed attempt's history row, after its rollback; best effort: the run's error stands. */
  private async recordFailure(failed: FailedRun, error: unknown): Promise<void> {
    try {
      await this.migrationHistory.recordFailure(
        this.locks,
        { ...failed, error },
        this.options.timeoutMs,
      );
    } catch (recordError) {
      this.logger.warn(
        `Could not record the failed attempt of ${failed.name} in the history: ${(recordError as Error).message}`,
      );
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

  /**
   * The history set beside the code, read without the lock and changing nothing: `changed`,
   * `missing`, `outOfOrder` (which make `clean` false), `unrecorded` and `unverifiable`.
   */
  async validate(): Promise<ValidationResult> {
    const findings = await this.migrationHistory.findings(await this.migrationHistory.read());
    return { findings, clean: !findings.some((finding) => FAILING_KINDS.has(finding.kind)) };
  }

  /** Applied migrations newest first (at most `limit`, default 100), and failed attempts apart. */
  async history(options: { limit?: number } = {}): Promise<MigrationHistoryReport> {
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1)
      throw new InvalidOptionsError(
        messages.invalidOption('history', 'limit', 'a positive integer', limit),
      );
    return historyReport(this.migrationHistory, this.dataSource, limit);
  }

  /**
   * What run() would send, per pending migration, without taking the lock or changing anything:
   * each up() runs against a QueryRunner that records its statements and answers with no rows.
   */
  async dryRun(): Promise<DryRunResult> {
    return dryRun(this.dataSource, this.migrationHistory);
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
    if (!last) return [];
    // In mode all inside the revert's transaction; in each / none after TypeORM committed it.
    const reverted = this.migrationHistory.revertedRowSql(last.name);
    if (reverted) await queryRunner.query(`${this.migrationHistory.ensureTableSql()}; ${reverted}`);
    return [last.name];
  }

  private async applyPending(
    run: MigrationRun,
    queryRunner: PostgresQueryRunner,
    lock: HeldLock,
    failure: { run?: FailedRun },
  ): Promise<string[]> {
    run.held(lock.waitedMs === 0);
    const steps = new MigrationSteps(
      this.executor(queryRunner),
      this.dataSource,
      this.migrationHistory,
    );
    // Re-read under the lock: whoever held it before may have applied everything.
    const { pending, tableExists, historyExists } = await steps.pending(queryRunner);
    steps.refuseOptedOut(pending);
    if (pending.length === 0) return [];
    // Their checksums, taken in one pass (one recording runner) before the first one runs.
    if (this.migrationHistory.table) await this.migrationHistory.captureAll(pending);
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
      this.logger.log(`Applied ${migration.name} in ${durationMs} ms`);
      this.tracker.emit('migrationApplied', { name: migration.name, durationMs });
      applied.push(done);
      this.tracker.migrationApplied(migration.name);
    }
    // Mode all: one statement records the run; it commits with the lock's transaction.
    if (this.options.transaction === 'all') await steps.record(queryRunner, applied);
    return applied.map(({ migration }) => migration.name);
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
