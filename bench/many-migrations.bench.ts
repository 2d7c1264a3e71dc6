import { Logger } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { AdvisoryLockService } from '../src/lock/advisory-lock.service.js';
import { MigrationRunnerService } from '../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../src/module/resolve-options.js';
import { median } from './stats.js';
import { withClient } from './admin-client.js';
import { rawManyMigrations } from './peers/raw-many-migrations.js';

/*
 * A long migration history on a fresh database (what every CI job, e2e run and new tenant pays):
 * the module's run ÷ plain TypeORM `dataSource.runMigrations()` on the same migrations, each on a
 * fresh database, interleaved, per transaction mode. Both sides log nothing. Beside them, the
 * floor: the same statements on one raw pg client (peers/raw-many-migrations.ts), which tells how
 * much of either side is the server's own work.
 */

export type ManyMigrationsMode = 'all' | 'each';
type Mode = ManyMigrationsMode;
type Side = 'module' | 'typeorm' | 'raw';

export interface ManyMigrationsResult {
  median: number;
  min: number;
  max: number;
  moduleMs: number;
  typeormMs: number;
  /** The raw-pg floor: median ms, and each side ÷ the floor (median of per-run ratios). */
  rawMs: number;
  moduleVsRaw: number;
  typeormVsRaw: number;
}

/** One pass: both modes, on the TypeORM version this process loaded. */
export type ManyMigrationsPass = { typeorm: string } & Record<Mode, ManyMigrationsResult>;

export interface ManyMigrationsResults {
  /** `all` / `each` and `typeorm`: TypeORM 1.x (the repository's); `typeorm03`: the same on 0.3. */
  manyMigrationsVsTypeorm: {
    count: number;
    runs: number;
    typeorm03?: ManyMigrationsPass;
  } & ManyMigrationsPass;
}

/** The version of the `typeorm` this process resolves (TypeORM 0.3 under typeorm-0.3/register). */
export function loadedTypeormVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.resolve('typeorm')));
  for (;;) {
    try {
      const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (name === 'typeorm') return version;
    } catch {
      // no package.json here: look further up
    }
    if (dirname(dir) === dir) throw new Error('typeorm: no package.json above its entry');
    dir = dirname(dir);
  }
}

/** `count` small migrations, each `CREATE TABLE` + `INSERT`, as classes (no glob loading). */
export function manyMigrations(count: number): Array<new () => MigrationInterface> {
  return Array.from({ length: count }, (_, i) => {
    const name = `Many${i}${1_700_000_000_000 + i}`;
    return class implements MigrationInterface {
      name = name;
      async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`CREATE TABLE many_${i} (id int PRIMARY KEY, note text)`);
        await queryRunner.query(`INSERT INTO many_${i} VALUES (1, 'seed')`);
      }
      async down(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(`DROP TABLE many_${i}`);
      }
    };
  });
}

/** Milliseconds one side takes to apply every migration to a fresh database (connect not timed). */
async function timeOne(
  adminUrl: string,
  migrations: Array<new () => MigrationInterface>,
  side: Side,
  mode: Mode,
): Promise<number> {
  const name = `bench_many_${side}_${mode}_${process.pid}_${Date.now()}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  try {
    const url = withDatabase(adminUrl, name);
    return side === 'raw'
      ? await timeRaw(url, migrations, mode)
      : await timeOnDataSource(url, migrations, side, mode);
  } finally {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
  }
}

/** The floor: the same statements on one raw pg client. */
async function timeRaw(
  url: string,
  migrations: Array<new () => MigrationInterface>,
  mode: Mode,
): Promise<number> {
  return withClient(url, async (client) => {
    const started = performance.now();
    await rawManyMigrations(client, migrations, mode);
    return performance.now() - started;
  });
}

/** The module's run, or TypeORM's runMigrations, on a DataSource initialized untimed. */
async function timeOnDataSource(
  url: string,
  migrations: Array<new () => MigrationInterface>,
  side: 'module' | 'typeorm',
  mode: Mode,
): Promise<number> {
  const dataSource = await new DataSource({ type: 'postgres', url, migrations }).initialize();
  try {
    const started = performance.now();
    if (side === 'typeorm') {
      await dataSource.runMigrations({ transaction: mode });
    } else {
      const locks = new AdvisoryLockService(dataSource);
      await new MigrationRunnerService(dataSource, locks, {
        ...DEFAULT_OPTIONS,
        transaction: mode,
      }).run();
    }
    return performance.now() - started;
  } finally {
    await dataSource.destroy();
  }
}

const SIDES: readonly Side[] = ['module', 'typeorm', 'raw'];

/**
 * One transaction mode on the TypeORM this process loaded: every side `runs` times, interleaved,
 * the order rotating, so that drift on the machine hits every side alike.
 */
export async function benchManyMigrationsMode(
  adminUrl: string,
  options: { runs: number; count: number },
  mode: Mode,
): Promise<ManyMigrationsResult> {
  const migrations = manyMigrations(options.count);
  // The runner logs every migration through Nest's Logger; TypeORM logs nothing by default.
  Logger.overrideLogger(false);
  try {
    const times: Record<Side, number[]> = { module: [], typeorm: [], raw: [] };
    for (let run = 0; run < options.runs; run++) {
      for (let i = 0; i < SIDES.length; i++) {
        const side = SIDES[(run + i) % SIDES.length];
        times[side].push(await timeOne(adminUrl, migrations, side, mode));
      }
    }
    const ratios = (of: Side, to: Side) => times[of].map((ms, run) => ms / times[to][run]);
    const vsTypeorm = ratios('module', 'typeorm');
    return {
      median: median(vsTypeorm),
      min: Math.min(...vsTypeorm),
      max: Math.max(...vsTypeorm),
      moduleMs: median(times.module),
      typeormMs: median(times.typeorm),
      rawMs: median(times.raw),
      moduleVsRaw: median(ratios('module', 'raw')),
      typeormVsRaw: median(ratios('typeorm', 'raw')),
    };
  } finally {
    Logger.overrideLogger(['log', 'error', 'warn']);
  }
}
