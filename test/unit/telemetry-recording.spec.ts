import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { currentTelemetry } from '../../src/telemetry/telemetry.js';

/*
 * With @opentelemetry/api installed but no SDK registered, every span and instrument is a no-op:
 * the lock calls and the runner skip them. An SDK registered later is seen on the next call.
 */
describe('telemetry: only when an SDK records', () => {
  afterEach(() => {
    trace.disable();
    metrics.disable();
  });

  it('is null with the API alone, and present once a tracer provider is registered', async () => {
    expect(await currentTelemetry()).toBeNull();
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    expect(await currentTelemetry()).not.toBeNull();
    trace.disable();
    expect(await currentTelemetry()).toBeNull();
  });

  it('is present with a meter provider alone', async () => {
    metrics.setGlobalMeterProvider(new MeterProvider());
    expect(await currentTelemetry()).not.toBeNull();
  });
});
