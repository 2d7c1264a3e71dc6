import pg from 'pg';
import { DataSource } from 'typeorm';
import { AdvisoryLockService } from '../src/lock/advisory-lock.service.js';
import { advisoryLockKey, lockKeyAsOids } from '../src/lock/lock-key.js';
import { median, percentile, round, spread, type Spread } from './stats.js';

const ID = 'bench';
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
  AND classid = $1::oid AND objid = $2::oid AND objsubid = 2`;
const POLLING_WAITER = `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'
  AND query LIKE '%pg_try_advisory_lock%'`;

export interface LatencyResults {
  withLockVsRaw: Spread & { withLockMedianUs: number; rawMedianUs: number };
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
  options: { runs: number; samples: number },
): Promise<LatencyResults> {
  // Session-lock connections are closed after use (their session state must not be pooled), so
  // each form gets its own DataSources: the transaction-level samples keep warm connections.
  const dataSources = await Promise.all(
    [1, 2, 3, 4].map(() => new DataSource({ type: 'postgres', url, poolSize: 2 }).initialize()),
  );
  const [holderLocks, waiterLocks, sessionHolderLocks, sessionWaiterLocks] = dataSources.map(
    (ds, i) => new AdvisoryLockService(ds, { applicationName: `bench-locks-${i}` }),
  );
  const raw = await rawClient(url, 'bench-raw');
  const rawWaiter = await rawClient(url, 'bench-raw-waiter');
  const observer = await rawClient(url, 'bench-observer');
  const ratios = { withLock: [] as number[], handoff: [] as number[], each: [] as number[] };
  const last = { withLock: [] as number[], raw: [] as number[] };
  const samples = {
    all: [] as number[],
    raw: [] as number[],
    each: [] as number[],
    rawSession: [] as number[],
  };
  try {
    for (let run = 0; run < options.runs; run++) {
      const withLockUs: number[] = [];
      const rawUs: number[] = [];
      for (let i = 0; i < options.samples * 10; i++) {
        withLockUs.push(await time(() => holderLocks.withLock(ID, TYPE, async () => undefined)));
        rawUs.push(
          await time(async () => {
            await raw.query('BEGIN');
            await raw.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
            await raw.query('COMMIT');
          }),
        );
      }
      ratios.withLock.push(median(withLockUs) / median(rawUs));
      [last.withLock, last.raw] = [withLockUs, rawUs];

      const all: number[] = [];
      const rawHandoff: number[] = [];
      const each: number[] = [];
      const rawSession: number[] = [];
      for (let i = 0; i < options.samples; i++) {
        all.push(await moduleHandoff(holderLocks, waiterLocks, observer, 'xact'));
        rawHandoff.push(await rawHandoffSample(raw, rawWaiter, observer, 'xact'));
        each.push(await moduleHandoff(sessionHolderLocks, sessionWaiterLocks, observer, 'session'));
        rawSession.push(await rawHandoffSample(raw, rawWaiter, observer, 'session'));
      }
      ratios.handoff.push(median(all) / median(rawHandoff));
      ratios.each.push(median(each) / median(rawSession));
      samples.all.push(...all);
      samples.raw.push(...rawHandoff);
      samples.each.push(...each);
      samples.rawSession.push(...rawSession);
    }
  } finally {
    await Promise.all([
      raw.end(),
      rawWaiter.end(),
      observer.end(),
      ...dataSources.map((ds) => ds.destroy()),
    ]);
  }
  const us = (values: number[], p: number) => round(percentile(values, p), 0);
  return {
    withLockVsRaw: {
      ...spread(ratios.withLock),
      withLockMedianUs: us(last.withLock, 50),
      rawMedianUs: us(last.raw, 50),
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

async function time(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return (performance.now() - started) * 1000;
}

/** Holder commits (or unlocks) at t0; the waiter's body starts at t1. Returns t1 - t0 in µs. */
async function moduleHandoff(
  holder: AdvisoryLockService,
  waiter: AdvisoryLockService,
  observer: pg.Client,
  form: 'xact' | 'session',
): Promise<number> {
  let release!: () => void;
  let held!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const holding = new Promise<void>((resolve) => (held = resolve));
  let bodyStarted!: (at: number) => void;
  const waiterBody = new Promise<number>((resolve) => (bodyStarted = resolve));
  const hold = (fn: () => Promise<void>) =>
    form === 'xact' ? holder.withLock(ID, TYPE, fn) : holder.withSessionLock(ID, TYPE, fn);
  const wait = (fn: () => Promise<void>) =>
    form === 'xact' ? waiter.withLock(ID, TYPE, fn) : waiter.withSessionLock(ID, TYPE, fn);
  const holderDone = hold(async () => {
    held();
    await released;
  });
  await holding;
  const waiterDone = wait(async () => bodyStarted(performance.now()));
  if (form === 'xact') await until(observer, WAITING_IN_PG_LOCKS, [CLASSID, OBJID]);
  else await until(observer, POLLING_WAITER, ['bench-locks-3']);
  const t0 = performance.now();
  release();
  const t1 = await waiterBody;
  await Promise.all([holderDone, waiterDone]);
  return (t1 - t0) * 1000;
}

async function rawHandoffSample(
  holder: pg.Client,
  waiter: pg.Client,
  observer: pg.Client,
  form: 'xact' | 'session',
): Promise<number> {
  const lock = form === 'xact' ? 'pg_advisory_xact_lock' : 'pg_advisory_lock';
  if (form === 'xact') await holder.query('BEGIN');
  await holder.query(`SELECT ${lock}($1::int4, $2::int4)`, [...KEY]);
  if (form === 'xact') await waiter.query('BEGIN');
  const waited = waiter
    .query(`SELECT ${lock}($1::int4, $2::int4)`, [...KEY])
    .then(() => performance.now());
  await until(observer, WAITING_IN_PG_LOCKS, [CLASSID, OBJID]);
  const t0 = performance.now();
  if (form === 'xact') await holder.query('COMMIT');
  else await holder.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...KEY]);
  const t1 = await waited;
  if (form === 'xact') await waiter.query('COMMIT');
  else await waiter.query('SELECT pg_advisory_unlock($1::int4, $2::int4)', [...KEY]);
  return (t1 - t0) * 1000;
}
