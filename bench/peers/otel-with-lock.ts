import { DataSource } from 'typeorm';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { findOtelApi } from '../../src/telemetry/otel-api.js';
import { median, timeUs } from '../stats.js';

/*
 * One process timing withLock(no-op) for the telemetry figures (otel.bench.ts), as OTEL_MODE says:
 * `off` (started with otel-absent/register: no API), `noop` (the API, no SDK), `sdk` (the SDK's
 * tracer and meter providers, spans to an in-memory exporter). Prints its median in µs.
 */
const mode = process.env.OTEL_MODE;
const calls = Number(process.env.CALLS);
const warmUpCalls = Number(process.env.WARM_UP_CALLS);

let clearSpans = () => undefined as unknown;
if (mode === 'sdk') {
  const { context, metrics, trace } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } =
    await import('@opentelemetry/sdk-trace-base');
  const { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter } =
    await import('@opentelemetry/sdk-metrics');
  const exporter = new InMemorySpanExporter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  const metricExporter = new InMemoryMetricExporter(0);
  metrics.setGlobalMeterProvider(
    new MeterProvider({
      readers: [
        new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 1000 }),
      ],
    }),
  );
  clearSpans = () => {
    exporter.reset();
    metricExporter.reset();
  };
}

const dataSource = await new DataSource({
  type: 'postgres',
  url: process.env.DATABASE_URL,
}).initialize();
const locks = new AdvisoryLockService(dataSource);
const noop = async () => undefined;
for (let i = 0; i < warmUpCalls; i++) await locks.withLock('otel-bench', 'Latency', noop);
const samples: number[] = [];
for (let i = 0; i < calls; i++) {
  samples.push(await timeUs(() => locks.withLock('otel-bench', 'Latency', noop)));
  if (i % 500 === 0) clearSpans();
}
await dataSource.destroy();
// Which case this process really was: the API found or not.
const otel = (await findOtelApi()) !== null;
console.log(JSON.stringify({ medianUs: median(samples), otel }));
process.exit(0);
