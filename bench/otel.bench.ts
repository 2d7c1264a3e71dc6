import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HIDE_OTEL_REGISTER, nodeOptionsSeeingOtel } from './otel-absent/hide.js';
import { median, round, spread, type Spread } from './stats.js';

const run = promisify(execFile);
const PEER = fileURLToPath(new URL('./peers/otel-with-lock.js', import.meta.url));

export interface OtelResults {
  /** withLock with @opentelemetry/api installed and no SDK ÷ without the API, per run. */
  withLockOtelNoopVsOff: Spread & { noopMedianUs: number; offMedianUs: number };
  /** The same with the SDK (tracer and meter providers, in-memory exporters) ÷ without the API. */
  withLockOtelSdkVsOff: Spread & { sdkMedianUs: number; offMedianUs: number };
}

type Mode = 'off' | 'noop' | 'sdk';

const PROCESSES_PER_MODE = 4;

/** One process's median withLock in µs, in `mode`. */
async function medianUs(
  url: string,
  mode: Mode,
  options: { calls: number; warmUpCalls: number },
): Promise<number> {
  const { stdout } = await run(
    process.execPath,
    [...(mode === 'off' ? ['--import', HIDE_OTEL_REGISTER] : []), PEER],
    {
      env: {
        ...process.env,
        ...(mode === 'off' ? {} : { NODE_OPTIONS: nodeOptionsSeeingOtel() }),
        DATABASE_URL: url,
        OTEL_MODE: mode,
        CALLS: String(options.calls),
        WARM_UP_CALLS: String(options.warmUpCalls),
      },
    },
  );
  const { medianUs, otel } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    medianUs: number;
    otel: boolean;
  };
  if (otel !== (mode !== 'off')) throw new Error(`the ${mode} process found the API: ${otel}`);
  return medianUs;
}

/**
 * withLock(no-op) in processes of three kinds, interleaved: without the API, with it and no SDK,
 * with the SDK. Each process warms up first (as lock-latency.bench.ts does). A process's median
 * moves by tens of per cent from one process to the next (where it runs, its backend): each run
 * takes the median of PROCESSES_PER_MODE processes of each kind.
 */
export async function benchOtel(
  url: string,
  options: { runs: number; calls: number; warmUpCalls: number },
): Promise<OtelResults> {
  const noop: number[] = [];
  const sdk: number[] = [];
  const last = { off: 0, noop: 0, sdk: 0 };
  for (let i = 0; i < options.runs; i++) {
    const ofRun = { off: [] as number[], noop: [] as number[], sdk: [] as number[] };
    for (let p = 0; p < PROCESSES_PER_MODE; p++)
      for (const mode of ['off', 'noop', 'sdk'] as const)
        ofRun[mode].push(await medianUs(url, mode, options));
    for (const mode of ['off', 'noop', 'sdk'] as const) last[mode] = median(ofRun[mode]);
    noop.push(last.noop / last.off);
    sdk.push(last.sdk / last.off);
  }
  const us = (value: number) => round(value, 0);
  return {
    withLockOtelNoopVsOff: {
      ...spread(noop),
      noopMedianUs: us(last.noop),
      offMedianUs: us(last.off),
    },
    withLockOtelSdkVsOff: { ...spread(sdk), sdkMedianUs: us(last.sdk), offMedianUs: us(last.off) },
  };
}
