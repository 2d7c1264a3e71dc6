import { PACKAGE_NAME, PACKAGE_VERSION } from './package-version.js';
import {
  findOtelApi,
  SPAN_KIND_INTERNAL,
  SPAN_STATUS_ERROR,
  type Attributes,
  type Counter,
  type Histogram,
  type OtelApi,
  type Span,
  type Tracer,
} from './otel-api.js';

/**
 * Bucket boundaries for durations in seconds, from a few ms (a free lock) to minutes (a long
 * migration): the SDK's defaults are made for milliseconds.
 */
const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The instruments of this package (names and units: docs/observability.md). */
export interface Instruments {
  /** Every wait for a lock, followers' included, in seconds. */
  readonly waitDuration: Histogram;
  readonly migrationsApplied: Counter;
  /** One applied migration, in seconds. */
  readonly migrationDuration: Histogram;
  /** `@WithAdvisoryLock` runs, by outcome. */
  readonly jobRuns: Counter;
  /** Lock timeouts, losses and aborts, by kind. */
  readonly lockFailures: Counter;
}

/**
 * The tracer and instruments of the providers registered now. Looked up again when the app
 * registers another provider: the metrics API has no proxy, so instruments made from the no-op
 * provider an app had before starting its SDK would stay no-ops.
 */
export class Telemetry {
  private tracerOf: { provider: object; tracer: Tracer } | undefined;
  private instrumentsOf: { provider: object; instruments: Instruments } | undefined;

  constructor(readonly api: OtelApi) {}

  /**
   * Whether an SDK has registered a tracer or a meter provider. Without one every span and
   * instrument is a no-op: calls skip them rather than build them (the API alone is often
   * installed as another library's dependency). Looked at per call: an SDK started later counts.
   */
  get recording(): boolean {
    const tracers = this.api.trace.getTracerProvider() as {
      getDelegateTracer?: (name: string, version?: string) => unknown;
    };
    // The global tracer provider is the API's proxy, with a delegate once an SDK registered one.
    if (typeof tracers.getDelegateTracer !== 'function') return true;
    if (tracers.getDelegateTracer(PACKAGE_NAME, PACKAGE_VERSION) !== undefined) return true;
    // The metrics API has no proxy: without a registration it answers its no-op provider.
    return this.api.metrics.getMeterProvider().constructor.name !== 'NoopMeterProvider';
  }

  get tracer(): Tracer {
    const provider = this.api.trace.getTracerProvider();
    if (this.tracerOf?.provider !== provider)
      this.tracerOf = { provider, tracer: this.api.trace.getTracer(PACKAGE_NAME, PACKAGE_VERSION) };
    return this.tracerOf.tracer;
  }

  get instruments(): Instruments {
    const provider = this.api.metrics.getMeterProvider();
    if (this.instrumentsOf?.provider !== provider)
      this.instrumentsOf = { provider, instruments: this.makeInstruments() };
    return this.instrumentsOf.instruments;
  }

  /** A span (kind INTERNAL) under `parent`, or under the active span when there is none. */
  startSpan(name: string, attributes: Attributes, parent?: Span, startTime?: number): Span {
    const context = parent
      ? this.api.trace.setSpan(this.api.context.active(), parent)
      : this.api.context.active();
    return this.tracer.startSpan(
      name,
      { kind: SPAN_KIND_INTERNAL, attributes, startTime },
      context,
    );
  }

  /** Runs `fn` with `span` active, so that spans the work starts are its children. */
  withSpan<T>(span: Span, fn: () => T): T {
    return this.api.context.with(this.api.trace.setSpan(this.api.context.active(), span), fn);
  }

  private makeInstruments(): Instruments {
    const meter = this.api.metrics.getMeter(PACKAGE_NAME, PACKAGE_VERSION);
    const seconds = (name: string, description: string) =>
      meter.createHistogram(name, {
        description,
        unit: 's',
        advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
      });
    return {
      waitDuration: seconds(
        'migration_lock.wait.duration',
        'How long a wait for an advisory lock took, followers included.',
      ),
      migrationsApplied: meter.createCounter('migration_lock.migrations.applied', {
        description: 'Migrations applied under the migration lock.',
      }),
      migrationDuration: seconds(
        'migration_lock.migration.duration',
        'How long one migration took to apply.',
      ),
      jobRuns: meter.createCounter('migration_lock.job.runs', {
        description: 'Runs of @WithAdvisoryLock jobs, by outcome.',
      }),
      lockFailures: meter.createCounter('migration_lock.lock.failures', {
        description: 'Lock waits that timed out, locks lost and waits aborted, by kind.',
      }),
    };
  }
}

/** Ends `span`, marking it failed with `error` when there is one. */
export function endSpan(span: Span, error?: unknown, endTime?: number): void {
  if (error !== undefined) {
    const failure = error instanceof Error ? error : new Error(String(error));
    span.recordException(failure);
    span.setStatus({ code: SPAN_STATUS_ERROR, message: failure.message });
  }
  span.end(endTime);
}

let shared: Telemetry | null | undefined;

/**
 * This package's telemetry: null when @opentelemetry/api is not installed, or when no SDK records
 * (see Telemetry.recording). The first call in a process waits for the lookup; every later one
 * answers at once.
 */
export function currentTelemetry(): Telemetry | null | Promise<Telemetry | null> {
  if (shared !== undefined) return recordingOrNull(shared);
  return findOtelApi().then((api) => recordingOrNull((shared = api && new Telemetry(api))));
}

function recordingOrNull(telemetry: Telemetry | null): Telemetry | null {
  return telemetry?.recording ? telemetry : null;
}
