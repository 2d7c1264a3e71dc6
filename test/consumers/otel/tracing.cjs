// How a CommonJS Nest app wires OpenTelemetry (`node -r ./tracing.cjs dist/main.js`): the SDK's
// tracer provider, registered before the app loads, with an exporter that appends each finished
// span's name and attributes to SPANS_FILE, for the consumer matrix to read.
const { appendFileSync } = require('node:fs');
const { trace } = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base');

const exporter = {
  export(spans, done) {
    for (const span of spans)
      appendFileSync(
        process.env.SPANS_FILE,
        `${JSON.stringify({ name: span.name, attributes: span.attributes })}\n`,
      );
    done({ code: 0 });
  },
  shutdown: async () => undefined,
};
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
