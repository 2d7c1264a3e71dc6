import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
    ratio: number;
    warnMs: number;
    offMs: number;
    samples: number;
    migrations: number;
  };
}

async function inFreshProcess(url: string, count: number, mode: string): Promise<number> {
  const { stdout } = await run(process.execPath, [REPLICA, url, String(count), mode]);
  return (JSON.parse(stdout) as { ms: number }).ms;
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
    const dataSource = await new DataSource({ type: 'postgres', url, migrations }).initialize();
    await new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
      transaction: 'all',
    }).run();
    await dataSource.destroy();
    const validate: number[] = [];
    const warn: number[] = [];
    const off: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      validate.push(await inFreshProcess(url, options.count, 'validate'));
      // Alternating which goes first, so that drift on the machine hits both alike.
      const order = i % 2 === 0 ? (['warn', 'off'] as const) : (['off', 'warn'] as const);
      for (const mode of order)
        (mode === 'warn' ? warn : off).push(await inFreshProcess(url, options.count, mode));
    }
    return {
      validate500Ms: {
        p50: round(median(validate), 1),
        p90: round(percentile(validate, 90), 1),
        samples: options.samples,
        migrations: options.count,
      },
      bootValidateVsOff: {
        ratio: round(median(warn.map((ms, i) => ms / off[i]))),
        warnMs: round(median(warn), 1),
        offMs: round(median(off), 1),
        samples: options.samples,
        migrations: options.count,
      },
    };
  } finally {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
  }
}
