import { Logger } from '@nestjs/common';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { createTestDatabase } from '../src/testing/index.js';
import { namesFor } from '../src/testing/test-database-names.js';
import { manyMigrations } from './many-migrations.bench.js';
import { percentile } from './stats.js';
import { withClient } from './admin-client.js';

/*
 * A migrated database per e2e test file: createTestDatabase (template warm: built by an untimed
 * first call) against what a clone costs, a raw `CREATE DATABASE … TEMPLATE` plus the first
 * connection to the new database, measured in the same run, interleaved.
 *
 * Two figures for createTestDatabase. `p50`: a call that finds the spare the previous call cloned
 * ahead ready, as the next test file of a Jest worker does once the previous file ran longer than a
 * clone; the bench waits for that spare (observed on the server) where a test file would run.
 * `coldP50`: a call with no spare ready (the first file of a worker, or one right after a shorter
 * file), which clones. The raw clone is timed with no spare being cloned beside it.
 */
export interface TestDatabaseResults {
  testDatabaseMs: { p50: number; coldP50: number; samples: number; migrations: number };
  testDatabaseVsRawTemplate: {
    median: number;
    min: number;
    max: number;
    p50Ms: number;
    rawP50Ms: number;
    /** A cold call (no spare ready, so a clone) ÷ the raw clone. */
    cold: number;
  };
}

/** Until this process has a spare ready and no session still cloning one. */
async function spareReady(adminUrl: string): Promise<void> {
  const pid = String(process.pid);
  for (;;) {
    const ready = await withClient(adminUrl, async (c) => {
      const cloning = await c.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'nestjs-migration-lock:spare %\\_' || $1`,
        [pid],
      );
      const spares = await c.query(
        `SELECT 1 FROM pg_database WHERE datname LIKE 'mlt\\_%\\_s\\_%\\_' || $1 || '\\_%'`,
        [pid],
      );
      return cloning.rowCount === 0 && spares.rowCount !== 0;
    });
    if (ready) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export async function benchTestDatabase(
  adminUrl: string,
  options: { samples: number; count: number },
): Promise<TestDatabaseResults> {
  const base = `bench_testdb_${process.pid}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${base}"`));
  const dataSourceOptions = {
    type: 'postgres' as const,
    url: withDatabase(adminUrl, base),
    migrations: manyMigrations(options.count),
  };
  Logger.overrideLogger(false);
  let template = '';
  try {
    // Builds the template (migrates it once): not what a test file waits for after the first.
    const first = await createTestDatabase({ dataSourceOptions });
    await first.drop();
    // This set's own template: other test processes on the server build theirs meanwhile.
    template = (await namesFor(dataSourceOptions)).template;
    const ours: number[] = [];
    const cold: number[] = [];
    const raw: number[] = [];
    const timed = async (prepareNext: boolean, into: number[]) => {
      const started = performance.now();
      const db = await createTestDatabase({ dataSourceOptions, prepareNext });
      into.push(performance.now() - started);
      await db.drop();
    };
    for (let i = 0; i < options.samples; i++) {
      await spareReady(adminUrl);
      await timed(true, ours);

      await spareReady(adminUrl);
      const name = `bench_raw_clone_${process.pid}_${i}`;
      const started = performance.now();
      await withClient(adminUrl, (c) =>
        c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`),
      );
      await withClient(withDatabase(adminUrl, name), async () => undefined);
      raw.push(performance.now() - started);
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));

      // Cold: the ready spare is claimed untimed without a next one, then a call finds none.
      await timed(false, []);
      await timed(false, cold);
      // And a call that clones the next iteration's spare.
      await timed(true, []);
    }
    const ratios = ours.map((ms, i) => ms / raw[i]);
    const p50 = percentile(ours, 50);
    const coldP50 = percentile(cold, 50);
    const rawP50 = percentile(raw, 50);
    return {
      testDatabaseMs: { p50, coldP50, samples: options.samples, migrations: options.count },
      testDatabaseVsRawTemplate: {
        median: p50 / rawP50,
        min: Math.min(...ratios),
        max: Math.max(...ratios),
        p50Ms: p50,
        rawP50Ms: rawP50,
        cold: coldP50 / rawP50,
      },
    };
  } finally {
    Logger.overrideLogger(['log', 'error', 'warn']);
    await withClient(adminUrl, async (c) => {
      if (template) {
        await c.query(`ALTER DATABASE "${template}" IS_TEMPLATE false`);
        await c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
      }
      await c.query(`DROP DATABASE IF EXISTS "${base}" WITH (FORCE)`);
    });
  }
}
