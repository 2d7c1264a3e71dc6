import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import {
  startEmbeddedPostgres,
  type LocalPostgres,
} from '../reference/runtime/embedded-postgres.js';
import { benchHistory } from './history.bench.js';
import { benchJobTick } from './job-tick.bench.js';
import { benchLockLatency } from './lock-latency.bench.js';
import { hideOpenTelemetry } from './otel-absent/hide.js';
import { benchOtel } from './otel.bench.js';
import { benchManyMigrationsOnBothVersions } from './many-migrations-versions.js';
import { markdownReport, svgChart, textReport, type BenchResults } from './report.js';
import { benchRollout } from './rollout.bench.js';
import { benchTestDatabase } from './test-database.bench.js';
import { benchTenants } from './tenants.bench.js';
import { writeKeepingTenantScale } from './tenant-scale-section.js';

/*
 * `npm run bench [-- --json] [-- --out docs]`: the lock against raw pg, rollouts against one
 * replica, and peers on the same migrations, in one run on this machine. Embedded PostgreSQL unless
 * DATABASE_URL is set. `--quick` (tiny counts) is what the smoke test runs.
 */
const { values } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    replicas: { type: 'string' },
    samples: { type: 'string' },
  },
});
const runs = Number(values.runs ?? (values.quick ? 1 : 3));
const replicas = Number(values.replicas ?? (values.quick ? 2 : 16));
const samples = Number(values.samples ?? (values.quick ? 3 : 40));
// Long enough for V8 to have optimized both sides' code (see lock-latency.bench.ts).
const warmUpCalls = values.quick ? 10 : 2000;
const warmUpHandoffs = values.quick ? 1 : 30;
// A long migration history (issue: every fresh database pays it), and test databases cloned from it.
const manyMigrationsCount = values.quick ? 10 : 200;
const testDatabaseSamples = values.quick ? 2 : 15;
// validate500Ms: the history of a long-lived service; fresh processes each.
const historyCount = values.quick ? 10 : 500;
const historySamples = values.quick ? 2 : 9;
// Schema-per-tenant: the 1 000 schemas × 10 migrations.
const tenantCount = values.quick ? 6 : 1000;
const tenantMigrationCount = values.quick ? 3 : 10;
const overheadTenants = values.quick ? 4 : 200;
const log = (line: string) => (values.json ? undefined : console.error(line));

async function main(): Promise<void> {
  hideOpenTelemetry();
  const server: LocalPostgres = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({});
  try {
    const postgres = await serverVersion(server.url);
    // First, on a calm server: the rollouts' hundreds of databases made and dropped leave its file
    // and fsync work slower for minutes (measured: the raw floor of an `all` run 647 → 825 ms, and
    // TypeORM 1.x's `all` ratio 0.84 → 0.94, its `each` 0.93 → 0.99), and a run of 200 small
    // migrations is mostly that work, so every ratio is pushed towards 1. The stages between this
    // and the rollouts are round trips, not file work: they give the server time to settle.
    log(
      `${manyMigrationsCount} migrations on fresh databases, module vs TypeORM 1.x and 0.3, ${runs} run(s) …`,
    );
    const manyOptions = { runs, count: manyMigrationsCount };
    const { typeorm1, typeorm03 } = await benchManyMigrationsOnBothVersions(
      server.url,
      manyOptions,
    );
    const many = { manyMigrationsVsTypeorm: { ...manyOptions, ...typeorm1, typeorm03 } };
    log(
      `history: validate ${historyCount} applied migrations, replica start warn vs off, ${historySamples} samples …`,
    );
    const history = await benchHistory(server.url, {
      samples: historySamples,
      count: historyCount,
    });
    log(
      `tenants: ${tenantCount} schemas × ${tenantMigrationCount} migrations, module vs a TypeORM loop, 4 processes vs 1, vs raw …`,
    );
    const tenants = await benchTenants(server.url, {
      tenants: tenantCount,
      migrations: tenantMigrationCount,
      overheadTenants,
      runs,
    });
    log(`lock latency: ${runs} run(s) × ${samples} hand-offs, ${samples * 10} withLock calls …`);
    const { handoffSamplesUs, ...latency } = await benchLockLatency(server.url, {
      runs,
      samples,
      warmUpCalls,
      warmUpHandoffs,
    });
    log(`job ticks: ${runs} run(s) × ${samples * 10} decorated no-op job calls vs raw …`);
    const jobTick = await benchJobTick(server.url, { runs, samples, warmUpCalls });
    log(`telemetry: ${runs} run(s) × withLock without @opentelemetry/api, with it, with the SDK …`);
    const otel = await benchOtel(server.url, { runs, calls: samples * 10, warmUpCalls });
    log(`rollouts: ${runs} run(s) of 1 and ${replicas} replicas, followers, peers …`);
    const { timeline, ...rollout } = await benchRollout(server.url, { runs, replicas });
    log(
      `test databases: ${testDatabaseSamples} × (spare ready, cold) of the migrated template vs raw …`,
    );
    const testDatabases = await benchTestDatabase(server.url, {
      samples: testDatabaseSamples,
      count: manyMigrationsCount,
    });
    const migrate200Ms = many.manyMigrationsVsTypeorm.all.moduleMs;
    const results: BenchResults = {
      ...latency,
      ...jobTick,
      ...otel,
      ...rollout,
      ...many,
      ...history,
      ...tenants,
      ...testDatabases,
      testDatabaseVsMigrate200: {
        ratio: testDatabases.testDatabaseMs.p50 / migrate200Ms,
        coldRatio: testDatabases.testDatabaseMs.coldP50 / migrate200Ms,
        testDatabaseMs: testDatabases.testDatabaseMs.p50,
        migrateMs: migrate200Ms,
        migrations: manyMigrationsCount,
      },
      machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
      command:
        `${process.env.DATABASE_URL ? 'DATABASE_URL=<server> ' : ''}npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
      postgres,
    };
    if (values.out) {
      await mkdir(values.out, { recursive: true });
      await writeFile(join(values.out, 'benchmarks.svg'), svgChart(timeline, handoffSamplesUs));
      await writeKeepingTenantScale(
        join(values.out, 'benchmarks.md'),
        markdownReport(results, 'benchmarks.svg'),
      );
    }
    console.log(values.json ? JSON.stringify(results) : textReport(results));
  } finally {
    await server.stop();
  }
}

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ v: string }>(
    "SELECT current_setting('server_version') AS v",
  );
  await client.end();
  return `PostgreSQL ${rows[0].v}${process.env.DATABASE_URL ? '' : ' (embedded)'}`;
}

// Explicit exit: embedded-postgres's exit hook would turn a natural exit into exit code 0.
await main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
