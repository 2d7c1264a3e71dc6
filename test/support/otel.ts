import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** A reader the test collects from when it wants, instead of on a timer. */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** The OpenTelemetry SDK as an app registers it, exporting to memory: spans and metrics to read. */
export interface OtelSdk {
  spans(): ReadableSpan[];
  /** The data points of the metric `name`, cumulative since the SDK started. */
  points(name: string): Promise<Array<DataPoint<unknown>>>;
  /** Every metric, to look through as a whole. */
  allMetrics(): Promise<MetricData[]>;
  reset(): void;
  shutdown(): Promise<void>;
}

export function startOtelSdk(): OtelSdk {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(tracerProvider);
  let reader = new CollectingReader();
  let meterProvider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(meterProvider);
  const allMetrics = async () => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
  };
  return {
    spans: () => exporter.getFinishedSpans(),
    allMetrics,
    points: async (name) =>
      (await allMetrics())
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => metric.dataPoints as Array<DataPoint<unknown>>),
    reset: () => {
      exporter.reset();
      // A new provider: what the package's instruments were made from is gone, as in an app that
      // registers its SDK after start.
      reader = new CollectingReader();
      meterProvider = new MeterProvider({ readers: [reader] });
      metrics.disable();
      metrics.setGlobalMeterProvider(meterProvider);
    },
    shutdown: async () => {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      trace.disable();
      metrics.disable();
      context.disable();
    },
  };
}

/** A span's parent span id (SDK 2.x keeps the parent's whole context). */
export const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
