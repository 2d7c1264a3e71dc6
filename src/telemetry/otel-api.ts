/*
 * The part of @opentelemetry/api this package uses, typed here rather than imported: the API is an
 * optional peer, and a declaration file that named its types would not compile in an app without
 * it. It is looked for on first use, never at import: an app that starts its SDK after importing
 * this package is still seen, and an app without the API loads nothing of it.
 */

export type AttributeValue = string | number | boolean | readonly number[];
export type Attributes = Record<string, AttributeValue | undefined>;

/** SpanKind.INTERNAL and SpanStatusCode.ERROR, as the API numbers them. */
export const SPAN_KIND_INTERNAL = 0;
export const SPAN_STATUS_ERROR = 2;

export interface Span {
  setAttribute(key: string, value: AttributeValue): unknown;
  setAttributes(attributes: Attributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error): void;
  end(endTime?: number): void;
}

/** An opaque OpenTelemetry context. */
export type Context = object;

export interface Tracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: Attributes; startTime?: number },
    context?: Context,
  ): Span;
}

export interface Histogram {
  record(value: number, attributes?: Attributes): void;
}

export interface Counter {
  add(value: number, attributes?: Attributes): void;
}

export interface Meter {
  createHistogram(
    name: string,
    options?: {
      description?: string;
      unit?: string;
      advice?: { explicitBucketBoundaries?: number[] };
    },
  ): Histogram;
  createCounter(name: string, options?: { description?: string; unit?: string }): Counter;
}

export interface OtelApi {
  trace: {
    getTracerProvider(): object;
    getTracer(name: string, version?: string): Tracer;
    setSpan(context: Context, span: Span): Context;
  };
  context: {
    active(): Context;
    with<T>(context: Context, fn: () => T): T;
  };
  metrics: {
    getMeterProvider(): object;
    getMeter(name: string, version?: string): Meter;
  };
}

let looking: Promise<OtelApi | null> | undefined;

/** Looks for @opentelemetry/api once per process; resolves null when it is not installed. */
export function findOtelApi(): Promise<OtelApi | null> {
  // A specifier in a variable: a bundler must not fail the app's build where the peer is absent.
  const specifier = '@opentelemetry/api';
  looking ??= import(specifier).then(
    (api: Partial<OtelApi> & { default?: OtelApi }) =>
      api.trace ? (api as OtelApi) : (api.default ?? null),
    () => null,
  );
  return looking;
}
