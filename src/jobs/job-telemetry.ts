import { advisoryLockKey } from '../lock/lock-key.js';
import { JOB_NAME, JOB_PERIOD_START, OUTCOME } from '../telemetry/attributes.js';
import { lockAttributes, lockMetricAttributes } from '../telemetry/lock-span.js';
import type { Span } from '../telemetry/otel-api.js';
import { currentTelemetry, endSpan, type Telemetry } from '../telemetry/telemetry.js';
import type { LockedJob } from './locked-job.js';

/** How a job run ended, on its span and on the runs counter. */
export type JobRunOutcome = 'ran' | 'skipped-held' | 'skipped-ran-this-period' | 'failed';

/**
 * One `@WithAdvisoryLock` run's `advisory-lock job <id>` span (its lock call's span is a child)
 * and its count on the runs counter, when OpenTelemetry is installed.
 */
export class JobTelemetry {
  private constructor(
    private readonly telemetry: Telemetry,
    private readonly job: LockedJob,
    readonly span: Span,
  ) {}

  static async start(job: LockedJob): Promise<JobTelemetry | undefined> {
    const telemetry = await currentTelemetry();
    if (!telemetry) return undefined;
    const span = telemetry.startSpan(`advisory-lock job ${job.id}`, {
      ...lockAttributes({ ...job, key: advisoryLockKey(job.id, job.type) }),
      [JOB_NAME]: job.name,
    });
    return new JobTelemetry(telemetry, job, span);
  }

  /** Runs `fn` with the job's span active. */
  within<T>(fn: () => T): T {
    return this.telemetry.withSpan(this.span, fn);
  }

  /** The period this run claimed (`oncePer`), as the server's clock cut it. */
  periodClaimed(start: Date): void {
    this.span.setAttribute(JOB_PERIOD_START, start.toISOString());
  }

  ended(outcome: JobRunOutcome, error?: unknown): void {
    this.span.setAttribute(OUTCOME, outcome);
    this.telemetry.instruments.jobRuns.add(1, {
      ...lockMetricAttributes(this.job),
      [OUTCOME]: outcome,
    });
    endSpan(this.span, error);
  }
}
