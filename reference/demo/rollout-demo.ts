import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { referenceMigrations } from '../migrations/index.js';
import type { MigrationTransactionMode } from '../../src/module/interfaces/migration-lock-options.interface.js';
import { redactConnectionUrl, withDatabase } from '../runtime/connection-url.js';
import { startEmbeddedPostgres, type LocalPostgres } from '../runtime/embedded-postgres.js';
import { ChaosMonkey } from './chaos.js';
import { launchFleet, type ReplicaReport } from './fleet.js';
import { formatTable } from './format-table.js';
import { checkRollout, type RolloutCheck } from './rollout-check.js';
import { SCENARIOS, type Scenario } from './scenario-migrations.js';

/*
 * `npm run demo [-- --replicas N] [-- --no-lock] [-- --mode each] [-- --chaos]`: N replicas of the
 * reference service start at the same instant against one fresh database; the table shows who
 * applied and who followed, and the check proves every migration ran exactly once.
 * Exits 1 when the check fails, 2 on bad usage.
 */
const USAGE =
  'usage: npm run demo -- [--replicas N (1-64, default 6)] [--mode all|each|none] [--chaos] [--no-lock] [--keep]';

interface DemoOptions {
  replicas: number;
  locked: boolean;
  keep: boolean;
  chaos: boolean;
  transaction: MigrationTransactionMode;
}

function parseOptions(): DemoOptions {
  try {
    const { values } = parseArgs({
      options: {
        replicas: { type: 'string', default: '6' },
        mode: { type: 'string', default: 'all' },
        chaos: { type: 'boolean', default: false },
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
    if (!['all', 'each', 'none'].includes(values.mode))
      throw new Error(`--mode must be all, each or none, got ${values.mode}`);
    if (values.chaos && replicas < 2)
      throw new Error('--chaos needs at least 2 replicas: one is killed');
    const transaction = values.mode as MigrationTransactionMode;
    return {
      replicas,
      locked: !values['no-lock'],
      keep: values.keep,
      chaos: values.chaos,
      transaction,
    };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

/** `--mode each` shows the concurrent-index scenario; `--chaos` the gate a killed holder dies at. */
function scenariosFor(options: DemoOptions): Scenario[] {
  return [
    ...(options.chaos ? (['gate'] as const) : []),
    ...(options.transaction !== 'all' ? (['cic'] as const) : []),
  ];
}

async function main(): Promise<number> {
  const options = parseOptions();
  const server: LocalPostgres = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, stop: async () => undefined }
    : await startEmbeddedPostgres({ dataDir: resolve('.data/demo-postgres') });
  const database = `rollout_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}_${randomBytes(2).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.url, application_name: 'rollout-demo' });
  admin.on('error', () => undefined);
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  try {
    return await rollout(withDatabase(server.url, database), options);
  } finally {
    if (!options.keep) await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    else console.log(`Kept database ${database}.`);
    await admin.end();
    await server.stop();
  }
}

async function rollout(databaseUrl: string, options: DemoOptions): Promise<number> {
  const scenarios = scenariosFor(options);
  console.log(
    `Rollout: ${options.replicas} replicas of the clusters service start at the same instant against ${redactConnectionUrl(databaseUrl)}` +
      (process.env.DATABASE_URL ? '' : ' (embedded PostgreSQL)') +
      (options.locked
        ? `, migrating under the advisory lock (transaction: ${options.transaction})`
        : ', migrating with plain TypeORM runMigrations and NO lock') +
      (scenarios.length ? `; extra migrations: ${scenarios.join(', ')}` : '') +
      (options.chaos ? '; the chaos monkey kills the replica holding the lock mid-migration' : '') +
      '.\n',
  );
  const fleet = await launchFleet(options.replicas, {
    databaseUrl,
    mode: options.locked ? 'locked' : 'unlocked',
    transaction: options.transaction,
    scenarios,
  });
  const monkey = options.chaos ? await ChaosMonkey.holdGate(databaseUrl) : undefined;
  const released = fleet.release();
  const victim = monkey ? await monkey.killHolderAtGate(fleet.replicas) : undefined;
  await monkey?.openGate();
  const reports = await released;
  await fleet.stop();
  console.log(
    formatTable(
      ['replica', 'pid', 'status', 'migrations', 'waited ms', 'ready at ms'],
      reports.map((r) => reportRow(r, victim?.index)),
    ),
  );
  const failures = reports.filter((r) => r.status === 'failed' && r.index !== victim?.index);
  for (const failure of failures) console.log(`  r${failure.index + 1}: ${failure.error}`);
  const expected = [...referenceMigrations, ...scenarios.flatMap((s) => SCENARIOS[s])].map(
    (m) => new m().name,
  );
  const check = await checkRollout(databaseUrl, expected);
  console.log(`\n${formatCheck(check)}`);
  const ok = check.ok && failures.length === 0;
  console.log(
    ok
      ? `\nOK: every migration ran exactly once, and no replica listened before the schema was current.` +
          (victim
            ? ` The holder r${victim.index + 1} was killed mid-migration; another replica took over.`
            : '')
      : `\nFAILED: ${failures.length} replica(s) failed to start${check.ok ? '' : ', and the schema shows migrations applied other than exactly once'}.` +
          (options.locked
            ? ''
            : ' This is what the lock prevents: run without --no-lock to compare.'),
  );
  return ok ? 0 : 1;
}

function reportRow(report: ReplicaReport, victim: number | undefined): string[] {
  const status = report.index === victim ? 'killed' : report.status;
  const migrations =
    report.status === 'failed'
      ? '-'
      : report.outcome === 'applied'
        ? `applied ${report.applied.length}`
        : 'followed';
  const waited = report.waitedMs === undefined ? '-' : String(report.waitedMs);
  return [
    `r${report.index + 1}`,
    String(report.pid),
    status,
    migrations,
    waited,
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
