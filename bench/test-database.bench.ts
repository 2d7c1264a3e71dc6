import { Logger } from '@nestjs/common';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { createTestDatabase } from '../src/testing/index.js';
import { manyMigrations } from './many-migrations.bench.js';
import { percentile } from './stats.js';
import { withClient } from './admin-client.js';

/*
 * A migrated database per e2e test file: createTestDatabase (template warm: built by an untimed
 * first call) against the least it can cost, a raw `CREATE DATABASE … TEMPLATE` plus the first
 * connection to the new database, measured in the same run, interleaved.
 */
export interface TestDatabaseResults {
  testDatabaseMs: { p50: number; samples: number; migrations: number };
  testDatabaseVsRawTemplate: {
    median: number;
    min: number;
    max: number;
    p50Ms: number;
    rawP50Ms: number;
  };
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
    const templates = async () =>
      (
        await withClient(adminUrl, (c) =>
          c.query<{ datname: string }>(
            `SELECT datname FROM pg_database WHERE datistemplate AND datname LIKE 'mlt\\_%'`,
          ),
        )
      ).rows.map((row) => row.datname);
    const before = await templates();
    // Builds the template (migrates it once): not what a test file waits for after the first.
    const first = await createTestDatabase({ dataSourceOptions });
    await first.drop();
    template = (await templates()).find((name) => !before.includes(name)) ?? '';
    const ours: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      let started = performance.now();
      const db = await createTestDatabase({ dataSourceOptions });
      ours.push(performance.now() - started);
      await db.drop();

      const name = `bench_raw_clone_${process.pid}_${i}`;
      started = performance.now();
      await withClient(adminUrl, (c) =>
        c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`),
      );
      await withClient(withDatabase(adminUrl, name), async () => undefined);
      raw.push(performance.now() - started);
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
    }
    const ratios = ours.map((ms, i) => ms / raw[i]);
    const p50 = percentile(ours, 50);
    const rawP50 = percentile(raw, 50);
    return {
      testDatabaseMs: { p50, samples: options.samples, migrations: options.count },
      testDatabaseVsRawTemplate: {
        median: p50 / rawP50,
        min: Math.min(...ratios),
        max: Math.max(...ratios),
        p50Ms: p50,
        rawP50Ms: rawP50,
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
