import { Injectable, Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource } from 'typeorm';
import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { checkAbortSignal, checkTimeoutMs } from '../errors/option-checks.js';
import { FAILING_KINDS, type DriftFinding } from '../history/drift.js';
import { resolveHistoryTable, resolveValidate } from '../history/history-options.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { answerBoundMs } from '../connection/connection-loss.js';
import { lockIdentity, type LockIdentity } from '../lock/lock-key.js';
import { currentTelemetry } from '../telemetry/telemetry.js';
import {
  MigrationStateTracker,
  type MigrationState,
  type TenantsState,
} from './migration-events.js';
import { dryRun, type DryRunResult } from './dry-run.js';
import { historyReport, type MigrationHistoryReport } from './history-report.js';
import { LockedMigrations } from './locked-migrations.js';
import { MigrationHistory } from './migration-history.js';
import { MigrationRun } from './migration-run.js';
import { describeResult, type MigrationRunResult } from './migration-run-result.js';
import type { MigrationRunnerOptions } from './migration-runner.options.js';
import { RunTelemetry } from './run-telemetry.js';
import { RunValidation } from './run-validation.js';
import { notApplied, pendingMigrationNames, warnIfNoMigrations } from './pending-migrations.js';

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

const UP_TO_DATE: MigrationRunResult = { outcome: 'upToDate', applied: [], waitedMs: 0, heldMs: 0 };

/**
 * Applies pending TypeORM migrations under the migration lock, always on the lock's own
 * connection (LockedMigrations): in mode `all` inside the lock's transaction (lock and migrations
 * commit or roll back together, with a pool of one), in `each` / `none` under the session-level
 * lock, step by step.
 */
@Injectable()
export class MigrationRunnerService {
  private readonly logger = new Logger('MigrationLock');
  private readonly tracker: MigrationStateTracker;
  private readonly lock: LockIdentity;
  /** `"id/type"`, as events and logs name the lock. */
  private readonly lockName: string;
  private readonly locked: LockedMigrations;
  private last: MigrationRunResult | undefined;
  private readonly migrationHistory: MigrationHistory;
  private readonly validation: RunValidation;

  constructor(
    private readonly dataSource: DataSource,
    locks: AdvisoryLockService,
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
    this.locked = new LockedMigrations({
      dataSource,
      locks,
      options,
      lock: this.lock,
      history: this.migrationHistory,
      tracker: this.tracker,
      logger: this.logger,
    });
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
    try {
      warnIfNoMigrations(this.dataSource, this.logger);
      const applied = await this.validation.before(answerWithinMs);
      const pendingAtStart = applied
        ? notApplied(this.dataSource, applied)
        : await pendingMigrationNames(this.dataSource, answerWithinMs);
      telemetry?.pending(pendingAtStart.length);
      // Checks that only warn run once the run is done, off the path to ready.
      const finish = (result: MigrationRunResult) => {
        this.validation.startAfter(pendingAtStart, this.dataSource);
        return this.finish(result, telemetry);
      };
      if (pendingAtStart.length === 0) return finish(UP_TO_DATE);
      run = new MigrationRun(this.tracker, this.lockName, telemetry);
      return finish(await this.locked.applyOrFollow(run, signal, answerWithinMs));
    } catch (error) {
      run?.failed(error);
      this.fail(error as Error);
      telemetry?.ended(undefined, error);
      throw error;
    }
  }

  /**
   * Settles when the last run's validation is done, if it ran after the run (checks that only
   * warn do, off the replica's path to ready): the CLI waits for it before it exits, and the
   * module before the app shuts down. Never rejects.
   */
  get validationDone(): Promise<void> {
    return this.validation.done;
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
    try {
      return await this.locked.revert(run, signal);
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
