import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { AdvisoryLockService } from '../src/lock/advisory-lock.service.js';
import { MigrationRunnerService } from '../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../src/module/resolve-options.js';
import { withClient } from './admin-client.js';
import { manyMigrations } from './many-migrations.bench.js';
import { median, percentile, round } from './stats.js';

/*
 * The history's cost where it is paid on every start: validating `count` applied migrations in a
 * fresh process (the capture of every up(), and two reads), and a replica's start with nothing
 * pending, validate 'warn' ÷ 'off', interleaved in the same run.
 */
const run = promisify(execFile);
const REPLICA = fileURLToPath(new URL('./peers/history-replica.js', import.meta.url));

export interface HistoryBenchResults {
  validate500Ms: { p50: number; p90: number; samples: number; migrations: number };
  bootValidateVsOff: {
    /** Process start to ready, warn ÷ off (median of per-pair ratios). */
    ratio: number;
    warnMs: number;
    offMs: number;
    /** The same from after the imports (connect, Nest context, bootstrap run): the module's share. */
    initRatio: number;
    warnInitMs: number;
    offInitMs: number;
    /** validate 'fail' (the check before the run, blocking) ÷ off, process start to ready. */
    failRatio: number;
    failMs: number;
    failInitRatio: number;
    samples: number;
    migrations: number;
  };
}

type Timed = { ms: number; initMs?: number };

async function inFreshProcess(url: string, count: number, mode: string): Promise<Timed> {
  const { stdout } = await run(process.execPath, [REPLICA, url, String(count), mode]);
  return JSON.parse(stdout) as Timed;
}

export async function benchHistory(
  adminUrl: string,
  options: { samples: number; count: number },
): Promise<HistoryBenchResults> {
  const name = `bench_history_${process.pid}_${Date.now()}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  try {
    const url = withDatabase(adminUrl, name);
    const migrations = manyMigrations(options.count);
    Logger.overrideLogger(false);
    const dataSource = await new DataSource({ type: 'postgres', url, migrations }).initialize();
    await new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
      transaction: 'all',
    }).run();
    await dataSource.destroy();
    Logger.overrideLogger(['log', 'error', 'warn']);
    const validate: number[] = [];
    const warn: Timed[] = [];
    const fail: Timed[] = [];
    const off: Timed[] = [];
    for (let i = 0; i < options.samples; i++) {
      validate.push((await inFreshProcess(url, options.count, 'validate')).ms);
      // Alternating which goes first, so that drift on the machine hits both alike.
      const order =
        i % 2 === 0 ? (['warn', 'fail', 'off'] as const) : (['off', 'fail', 'warn'] as const);
      const into = { warn, fail, off };
      for (const mode of order) into[mode].push(await inFreshProcess(url, options.count, mode));
    }
    return {
      validate500Ms: {
        p50: round(median(validate), 1),
        p90: round(percentile(validate, 90), 1),
        samples: options.samples,
        migrations: options.count,
      },
      bootValidateVsOff: {
        ratio: round(median(warn.map((w, i) => w.ms / off[i].ms))),
        warnMs: round(median(warn.map((w) => w.ms)), 1),
        offMs: round(median(off.map((o) => o.ms)), 1),
        initRatio: round(median(warn.map((w, i) => w.initMs! / off[i].initMs!))),
        warnInitMs: round(median(warn.map((w) => w.initMs!)), 1),
        offInitMs: round(median(off.map((o) => o.initMs!)), 1),
        failRatio: round(median(fail.map((f, i) => f.ms / off[i].ms))),
        failMs: round(median(fail.map((f) => f.ms)), 1),
        failInitRatio: round(median(fail.map((f, i) => f.initMs! / off[i].initMs!))),
        samples: options.samples,
        migrations: options.count,
      },
    };
  } finally {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
  }
}
