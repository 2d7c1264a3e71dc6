import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { referenceMigrations } from '../../migrations/index.js';
import { redactConnectionUrl, withDatabase } from '../runtime/connection-url.js';
import { startEmbeddedPostgres, type LocalPostgres } from '../runtime/embedded-postgres.js';
import { runFleet, type ReplicaReport } from './fleet.js';
import { formatTable } from './format-table.js';
import { checkRollout, type RolloutCheck } from './rollout-check.js';

/*
 * `npm run demo [-- --replicas N] [-- --no-lock]`: N replicas of the reference service start at the
 * same instant against one fresh database; the table shows who applied and who followed, and the
 * check proves every migration ran exactly once. Exits 1 when the check fails, 2 on bad usage.
 */
const USAGE = 'usage: npm run demo -- [--replicas N (1-64, default 6)] [--no-lock] [--keep]';

function parseOptions(): { replicas: number; locked: boolean; keep: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        replicas: { type: 'string', default: '6' },
        'no-lock': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const replicas = Number(values.replicas);
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 64)
      throw new Error(`--replicas must be 1 to 64, got ${values.replicas}`);
    return { replicas, locked: !values['no-lock'], keep: values.keep };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const { replicas, locked, keep } = parseOptions();
  const server: LocalPostgres = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir: resolve('.data/demo-postgres') });
  const database = `rollout_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.url, application_name: 'rollout-demo' });
  admin.on('error', () => undefined);
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const databaseUrl = withDatabase(server.url, database);
  try {
    console.log(
      `Rollout: ${replicas} replicas of the clusters service start at the same instant against ${redactConnectionUrl(databaseUrl)}` +
        (process.env.DATABASE_URL ? '' : ' (embedded PostgreSQL)') +
        `, migrating ${locked ? 'under the advisory lock' : 'with plain TypeORM runMigrations and NO lock'}.\n`,
    );
    const fleet = await runFleet({ replicas, databaseUrl, mode: locked ? 'locked' : 'unlocked' });
    await fleet.stop();
    console.log(
      formatTable(
        ['replica', 'pid', 'status', 'migrations', 'waited ms', 'ready at ms'],
        fleet.reports.map(reportRow),
      ),
    );
    const failures = fleet.reports.filter((r) => r.status === 'failed');
    for (const failure of failures) console.log(`  r${failure.index + 1}: ${failure.error}`);
    const check = await checkRollout(
      databaseUrl,
      referenceMigrations.map((m) => new m().name),
    );
    console.log(`\n${formatCheck(check)}`);
    const ok = check.ok && failures.length === 0;
    console.log(
      ok
        ? `\nOK: every migration ran exactly once, and no replica listened before the schema was current.`
        : `\nFAILED: ${failures.length} replica(s) failed to start${check.ok ? '' : ', and the schema shows migrations applied other than exactly once'}.` +
            (locked ? '' : ' This is what the lock prevents: run without --no-lock to compare.'),
    );
    return ok ? 0 : 1;
  } finally {
    if (!keep) await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    else console.log(`Kept database ${database}.`);
    await admin.end();
    await server.stop();
  }
}

function reportRow(report: ReplicaReport): string[] {
  const migrations =
    report.status === 'failed'
      ? '-'
      : report.outcome === 'applied'
        ? `applied ${report.applied.length}`
        : 'followed';
  return [
    `r${report.index + 1}`,
    String(report.pid),
    report.status,
    migrations,
    report.waitedMs === undefined ? '-' : String(report.waitedMs),
    String(report.atMs),
  ];
}

function formatCheck(check: RolloutCheck): string {
  const rows = Object.entries(check.migrationRuns).map(([name, runs]) => [
    name,
    `${runs}x`,
    runs === 1 ? 'ok' : 'WRONG',
  ]);
  rows.push([
    'backfill effect (seed cluster generation)',
    String(check.backfillRuns ?? 'missing'),
    check.backfillRuns === 1 ? 'ok' : 'WRONG',
  ]);
  return formatTable(['check', 'applied', ''], rows);
}

const exitCode = await main().catch((error: unknown) => {
  console.error(`Demo failed: ${(error as Error).message}`);
  return 1;
});
// Explicit: embedded-postgres's exit hook turns a natural exit (beforeExit) into process.exit(0).
process.exit(exitCode);
