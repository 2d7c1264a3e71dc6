import {
  APPLIED_COUNT,
  DB_NAMESPACE,
  DB_SYSTEM_NAME,
  MIGRATION_NAME,
  MODE,
  OUTCOME,
  PENDING_COUNT,
  POSTGRESQL,
  WAITED_MS,
} from '../telemetry/attributes.js';
import {
  countLockFailure,
  holderAttributes,
  lockAttributes,
  lockMetricAttributes,
  type TracedLock,
} from '../telemetry/lock-span.js';
import type { Attributes, Span } from '../telemetry/otel-api.js';
import { endSpan, type Telemetry } from '../telemetry/telemetry.js';
import type { WaitOutcome } from './migration-events.js';
import type { MigrationRunResult } from './migration-run-result.js';

/** What a run's spans and metrics say of it. */
export interface RunTelemetrySubject {
  readonly lock: TracedLock;
  readonly mode: string;
  /** The DataSource's database, when known. */
  readonly database: string | undefined;
}

/**
 * The spans and metrics of one migration run: `migration-lock run` over all of it, and under it
 * `migration-lock wait` when the replica waited and `migration-lock apply <name>` per migration
 * (names and attributes: docs/observability.md).
 */
export class RunTelemetry {
  readonly span: Span;
  private readonly metricAttributes: Attributes;

  constructor(
    private readonly telemetry: Telemetry,
    private readonly subject: RunTelemetrySubject,
  ) {
    this.span = telemetry.startSpan('migration-lock run', {
      [DB_SYSTEM_NAME]: POSTGRESQL,
      [DB_NAMESPACE]: subject.database,
      [MODE]: subject.mode,
      ...lockAttributes(subject.lock),
    });
    this.metricAttributes = { ...lockMetricAttributes(subject.lock), [MODE]: subject.mode };
  }

  /** Runs `fn` with the run's span active: spans the run's own statements start are its children. */
  within<T>(fn: () => T): T {
    return this.telemetry.withSpan(this.span, fn);
  }

  pending(count: number): void {
    this.span.setAttribute(PENDING_COUNT, count);
  }

  /**
   * A wait that ended: on the wait histogram always, and as a `wait` span (from `startedAt`, epoch
   * ms) unless the replica took the lock at its first try, which is no wait.
   */
  waitEnded(
    startedAt: number,
    waitedMs: number,
    outcome: WaitOutcome,
    options: { atOnce: boolean; error?: unknown },
  ): void {
    const { error } = options;
    this.telemetry.instruments.waitDuration.record(waitedMs / 1000, {
      ...this.metricAttributes,
      [OUTCOME]: outcome,
    });
    if (error !== undefined) countLockFailure(this.telemetry, this.subject.lock, error);
    if (options.atOnce) return;
    const span = this.telemetry.startSpan(
      'migration-lock wait',
      { ...lockAttributes(this.subject.lock), [WAITED_MS]: waitedMs, [OUTCOME]: outcome },
      this.span,
      startedAt,
    );
    span.setAttributes(holderAttributes(error));
    endSpan(span, outcome === 'acquired' || outcome === 'followed' ? undefined : error);
  }

  /** Applies one migration (`apply`) inside its `apply <name>` span; counts and times it. */
  async apply<T>(name: string, apply: () => Promise<T>): Promise<T> {
    const span = this.telemetry.startSpan(
      `migration-lock apply ${name}`,
      { [MIGRATION_NAME]: name, [MODE]: this.subject.mode },
      this.span,
    );
    const started = performance.now();
    let value: T;
    try {
      value = await this.telemetry.withSpan(span, apply);
    } catch (error) {
      endSpan(span, error);
      throw error;
    }
    const { migrationsApplied, migrationDuration } = this.telemetry.instruments;
    migrationsApplied.add(1, this.metricAttributes);
    migrationDuration.record((performance.now() - started) / 1000, this.metricAttributes);
    endSpan(span);
    return value;
  }

  /** The run ended: with its result, or with the error it failed with. */
  ended(result: MigrationRunResult | undefined, error?: unknown): void {
    if (result)
      this.span.setAttributes({
        [OUTCOME]: result.outcome,
        [APPLIED_COUNT]: result.applied.length,
      });
    endSpan(this.span, error);
  }
}
