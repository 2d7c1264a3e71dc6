import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { emitEvent, type EventOf } from '../migration-runner/migration-events.js';
import { claimJobPeriodSql, createJobRunsTableSql } from './job-runs.sql.js';
import { JobTelemetry } from './job-telemetry.js';
import type { LockedJob, LockedJobEvents } from './locked-job.js';

/** The lock that serializes the first-use CREATE TABLE of the job-runs table across replicas. */
const JOB_RUNS_TABLE_LOCK_TYPE = 'MigrationLockJobRunsTable';

/** The work found the period already run by another replica (a late tick). */
const RAN_THIS_PERIOD = Symbol('ranThisPeriod');

/**
 * Runs `@WithAdvisoryLock` jobs for one MigrationLockModule registration: the job's method inside
 * the lock's transaction, its `oncePer` record in that same transaction, and the job events.
 */
export class LockedJobRunner {
  private readonly logger = new Logger('MigrationLock');
  private tableReady: Promise<void> | undefined;

  constructor(
    private readonly locks: AdvisoryLockService,
    private readonly jobRunsTable: string,
    private readonly events: LockedJobEvents | undefined,
  ) {}

  /** Runs `call` as `job`; undefined when it was skipped (lock held, or run this period). */
  async run<T>(job: LockedJob, call: () => T | Promise<T>): Promise<T | undefined> {
    const telemetry = await JobTelemetry.start(job);
    if (!telemetry) return this.runJob(job, call, undefined);
    return telemetry.within(() => this.runJob(job, call, telemetry));
  }

  private async runJob<T>(
    job: LockedJob,
    call: () => T | Promise<T>,
    telemetry: JobTelemetry | undefined,
  ): Promise<T | undefined> {
    let startedAt: number | undefined;
    const work = async (manager: EntityManager) => {
      if (job.periodMs !== undefined) {
        const period = await this.claimPeriod(manager, job, job.periodMs);
        if (!period) return RAN_THIS_PERIOD;
        telemetry?.periodClaimed(period);
      }
      startedAt = performance.now();
      this.emit('jobStarted', { job: job.name });
      return { value: await call() };
    };
    let outcome: { value: T } | typeof RAN_THIS_PERIOD;
    try {
      if (job.periodMs !== undefined) await this.jobRunsTableReady();
      if (job.onHeld === 'skip') {
        const attempt = await this.locks.tryWithLock(job.id, job.type, work);
        if (!attempt.acquired) return this.skipped(job, 'held', telemetry);
        outcome = attempt.value;
      } else {
        const options = job.timeoutMs === undefined ? undefined : { timeoutMs: job.timeoutMs };
        outcome = await this.locks.withLock(job.id, job.type, work, options);
      }
    } catch (error) {
      const durationMs = startedAt === undefined ? 0 : Math.round(performance.now() - startedAt);
      this.emit('jobFailed', { job: job.name, error: error as Error, durationMs });
      telemetry?.ended('failed', error);
      throw error;
    }
    if (outcome === RAN_THIS_PERIOD) return this.skipped(job, 'ranThisPeriod', telemetry);
    const durationMs = Math.round(performance.now() - (startedAt ?? performance.now()));
    this.emit('jobFinished', { job: job.name, durationMs });
    telemetry?.ended('ran');
    return outcome.value;
  }

  private skipped(
    job: LockedJob,
    reason: 'held' | 'ranThisPeriod',
    telemetry: JobTelemetry | undefined,
  ): undefined {
    this.emit('jobSkipped', { job: job.name, reason });
    telemetry?.ended(reason === 'held' ? 'skipped-held' : 'skipped-ran-this-period');
    return undefined;
  }

  /**
   * In the job's transaction: the period's start when this run is its period's first, undefined
   * when a run of this period committed already (see claimJobPeriodSql).
   */
  private async claimPeriod(manager: EntityManager, job: LockedJob, periodMs: number) {
    const rows = (await manager.query(claimJobPeriodSql(this.jobRunsTable), [
      job.id,
      job.type,
      periodMs,
    ])) as Array<{ period_start: Date }>;
    return rows[0]?.period_start;
  }

  /** Creates the table once per process, under its own lock; a failure is retried on the next run. */
  private jobRunsTableReady(): Promise<void> {
    this.tableReady ??= this.locks
      .withLock(this.jobRunsTable, JOB_RUNS_TABLE_LOCK_TYPE, async (manager) => {
        await manager.query(createJobRunsTableSql(this.jobRunsTable));
      })
      .catch((error: unknown) => {
        this.tableReady = undefined;
        throw error;
      });
    return this.tableReady;
  }

  private emit<K extends keyof LockedJobEvents>(name: K, event: EventOf<LockedJobEvents, K>): void {
    emitEvent(this.events, name, event, this.logger);
  }
}
