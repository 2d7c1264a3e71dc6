import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AdvisoryLockService } from '../src/lock/advisory-lock.service.js';
import { advisoryLockKey, lockKeyAsOids } from '../src/lock/lock-key.js';
import {
  WAITER_APPLICATION_NAME,
  type HandoffForm,
  type HandoffReply,
  type HandoffRequest,
} from './handoff-protocol.js';
import { median, percentile, round, spread, type Spread, timeUs } from './stats.js';

const ID = 'bench';
/*
 * Both sides are warmed up before anything counts: V8 optimizes a function only after it has run
 * for a while, and the module's own code, unlike pg's, is not shared with the raw side. Measured
 * here: withLock ÷ raw is about 1.2–1.35 over the first thousand calls of a process and settles
 * after about 1,200. The first calls' ratio is still reported (`coldMedian`).
 */
const COLD_CALLS = 200;
const TYPE = 'Latency';
const KEY = advisoryLockKey(ID, TYPE);
const [CLASSID, OBJID] = lockKeyAsOids(KEY);

async function rawClient(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Polls the server until `sql` returns a row: how the bench knows a waiter really waits. */
async function until(observer: pg.Client, sql: string, params: unknown[]): Promise<void> {
  while ((await observer.query(sql, params)).rowCount === 0)
    await new Promise((r) => setImmediate(r));
}

const WAITING_IN_PG_LOCKS = `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
  AND classid = $1::oid AND objid = $2::oid AND objsubid = 2
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
const POLLING_WAITER = `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 AND state = 'idle'
  AND query LIKE '%pg_try_advisory_lock%'`;

/** The waiting side in its own process (see handoff-protocol.ts). */
class HandoffWaiter {
  private constructor(private readonly child: ChildProcess) {}

  static async start(url: string): Promise<HandoffWaiter> {
    const child = fork(fileURLToPath(new URL('./handoff-waiter.js', import.meta.url)), [], {
      env: { ...process.env, DATABASE_URL: url, HANDOFF_LOCK: `${ID}/${TYPE}` },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const waiter = new HandoffWaiter(child);
    await waiter.reply();
    return waiter;
  }

  /** Starts a wait in `form`; resolves with the instant the waiter's body started (hrtime ns). */
  async wait(form: HandoffForm): Promise<bigint> {
    const reply = this.reply();
    this.child.send({ type: 'wait', form } satisfies HandoffRequest);
    const message = await reply;
    if (message.type !== 'sample') throw new Error(`hand-off waiter: ${JSON.stringify(message)}`);
    return BigInt(message.bodyStartedNs);
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.send({ type: 'stop' } satisfies HandoffRequest);
    await exited;
  }

  private reply(): Promise<HandoffReply> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`hand-off waiter exited (${code})`));
      this.child.once('exit', onExit);
      this.child.once('message', (message: HandoffReply) => {
        this.child.removeListener('exit', onExit);
        resolve(message);
      });
    });
  }
}

export interface LatencyResults {
  withLockVsRaw: Spread & {
    withLockMedianUs: number;
    rawMedianUs: number;
    /** withLock ÷ raw over a new process's first calls (up to 200), before the warm-up ends. */
    coldMedian: number;
    warmUpCalls: number;
  };
  handoffVsRaw: Spread & { p50Us: number; p99Us: number; rawP50Us: number; rawP99Us: number };
  handoffEachVsRaw: Spread & { p50Us: number; p99Us: number; rawP50Us: number; rawP99Us: number };
  handoffSamplesUs: { all: number[]; raw: number[]; each: number[]; rawSession: number[] };
}

/**
 * withLock(noop) against raw `BEGIN; pg_advisory_xact_lock; COMMIT` (three round trips), and the
 * lock hand-off (holder commits → waiter's body starts) against the same with raw clients,
 * interleaved in the same run. Each ratio is a median over `runs` repetitions.
 */
export async function benchLockLatency(
  url: string,
  options: { runs: number; samples: number; warmUpCalls: number; warmUpHandoffs: number },
): Promise<LatencyResults> {
  const dataSource = await new DataSource({ type: 'postgres', url, poolSize: 2 }).initialize();
  const holderLocks = new AdvisoryLockService(dataSource, { applicationName: 'bench-holder' });
  const raw = await rawClient(url, 'bench-raw');
  const observer = await rawClient(url, 'bench-observer');
  const waiter = await HandoffWaiter.start(url);
  const ratios = { withLock: [] as number[], handoff: [] as number[], each: [] as number[] };
  const last = { withLock: [] as number[], raw: [] as number[] };
  const samples = {
    all: [] as number[],
    raw: [] as number[],
    each: [] as number[],
    rawSession: [] as number[],
  };
  const cold = { withLock: [] as number[], raw: [] as number[] };
  try {
    for (let i = 0; i < options.warmUpCalls; i++) {
      const [withLockUs, rawUs] = await withLockAndRaw(holderLocks, raw);
      if (i >= COLD_CALLS) continue;
      cold.withLock.push(withLockUs);
      cold.raw.push(rawUs);
    }
    for (let i = 0; i < options.warmUpHandoffs; i++) {
      await moduleHandoff(holderLocks, waiter, observer, 'xact');
      await rawHandoffSample(raw, waiter, observer, 'xact');
      await moduleHandoff(holderLocks, waiter, observer, 'session');
      await rawHandoffSample(raw, waiter, observer, 'session');
    }
    for (let run = 0; run < options.runs; run++) {
      const withLockUs: number[] = [];
      const rawUs: number[] = [];
      for (let i = 0; i < options.samples * 10; i++) {
        const [withLockSample, rawSample] = await withLockAndRaw(holderLocks, raw);
        withLockUs.push(withLockSample);
        rawUs.push(rawSample);
      }
      ratios.withLock.push(median(withLockUs) / median(rawUs));
      [last.withLock, last.raw] = [withLockUs, rawUs];

      const all: number[] = [];
      const rawHandoff: number[] = [];
      const each: number[] = [];
      const rawSession: number[] = [];
      for (let i = 0; i < options.samples; i++) {
        all.push(await moduleHandoff(holderLocks, waiter, observer, 'xact'));
        rawHandoff.push(await rawHandoffSample(raw, waiter, observer, 'xact'));
        each.push(await moduleHandoff(holderLocks, waiter, observer, 'session'));
        rawSession.push(await rawHandoffSample(raw, waiter, observer, 'session'));
      }
      ratios.handoff.push(median(all) / median(rawHandoff));
      ratios.each.push(median(each) / median(rawSession));
      samples.all.push(...all);
      samples.raw.push(...rawHandoff);
      samples.each.push(...each);
      samples.rawSession.push(...rawSession);
    }
  } finally {
    await Promise.all([raw.end(), observer.end(), dataSource.destroy(), waiter.stop()]);
  }
  const us = (values: number[], p: number) => round(percentile(values, p), 0);
  return {
    withLockVsRaw: {
      ...spread(ratios.withLock),
      withLockMedianUs: us(last.withLock, 50),
      rawMedianUs: us(last.raw, 50),
      coldMedian: round(median(cold.withLock) / median(cold.raw)),
      warmUpCalls: options.warmUpCalls,
    },
    handoffVsRaw: {
      ...spread(ratios.handoff),
      p50Us: us(samples.all, 50),
      p99Us: us(samples.all, 99),
      rawP50Us: us(samples.raw, 50),
      rawP99Us: us(samples.raw, 99),
    },
    handoffEachVsRaw: {
      ...spread(ratios.each),
      p50Us: us(samples.each, 50),
      p99Us: us(samples.each, 99),
      rawP50Us: us(samples.rawSession, 50),
      rawP99Us: us(samples.rawSession, 99),
    },
    handoffSamplesUs: samples,
  };
}

/** One withLock(noop) and one raw `BEGIN; pg_advisory_xact_lock; COMMIT`, in µs. */
async function withLockAndRaw(
  locks: AdvisoryLockService,
  raw: pg.Client,
): Promise<[number, number]> {
  const withLockUs = await timeUs(() => locks.withLock(ID, TYPE, async () => undefined));
  const rawUs = await timeUs(async () => {
    await raw.query('BEGIN');
    await raw.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    await raw.query('COMMIT');
  });
  return [withLockUs, rawUs];
}

const elapsedUs = (from: bigint, to: bigint) => Number(to - from) / 1000;

/**
 * Holder (this process) commits or unlocks at t0; the waiter's body starts at t1 in the waiter's
 * process. t0 is taken only once the server shows the waiter waiting. Returns t1 - t0 in µs.
 */
async function moduleHandoff(
  holder: AdvisoryLockService,
  waiter: HandoffWaiter,
  observer: pg.Client,
  form: 'xact' | 'session',
): Promise<number> {
  let release!: () => void;
  let held!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const holding = new Promise<void>((resolve) => (held = resolve));
  const work = async () => {
    held();
    await released;
  };
  const holderDone =
    form === 'xact' ? holder.withLock(ID, TYPE, work) : holder.withSessionLock(ID, TYPE, work);
  await holding;
  const bodyStarted = waiter.wait(form === 'xact' ? 'module-xact' : 'module-session');
  if (form === 'xact') await until(observer, WAITING_IN_PG_LOCKS, [CLASSID, OBJID]);
  else await until(observer, POLLING_WAITER, [WAITER_APPLICATION_NAME]);
  const t0 = process.hrtime.bigint();
  release();
  const t1 = await bodyStarted;
  await holderDone;
  return elapsedUs(t0, t1);
}

async function rawHandoffSample(
  holder: pg.Client,
  waiter: HandoffWaiter,
  observer: pg.Client,
  form: 'xact' | 'session',
): Promise<number> {
  const lock = form === 'xact' ? 'pg_advisory_xact_lock' : 'pg_advisory_lock';
  if (form === 'xact') await holder.query('BEGIN');
  await holder.query(`SELECT ${lock}($1::int4, $2::int4)`, [...KEY]);
  const bodyStarted = waiter.wait(form === 'xact' ? 'raw-xact' : 'raw-session');
  await until(observer, WAITING_IN_PG_LOCKS, [CLASSID, OBJID]);
  const t0 = process.hrtime.bigint();
  const released =
    form === 'xact'
      ? holder.query('COMMIT')
      : holder.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...KEY]);
  const t1 = await bodyStarted;
  await released;
  return elapsedUs(t0, t1);
}
