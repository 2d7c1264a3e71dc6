import type pg from 'pg';
import { referenceMigrations } from '../../reference/migrations/index.js';
import { advisoryLockKey, lockKeyAsOids } from '../../src/lock/lock-key.js';
import { ChaosMonkey } from '../../reference/demo/chaos.js';
import { launchFleet, type Fleet, type ReplicaReport } from '../../reference/demo/fleet.js';
import type { ReplicaConfig } from '../../reference/demo/replica-protocol.js';
import { checkRollout } from '../../reference/demo/rollout-check.js';
import {
  GATE_LOCK,
  IDLE_GATE_LOCK,
  SCENARIOS,
  type Scenario,
} from '../../reference/demo/scenario-migrations.js';
import { advisoryLockRows, pollUntil, rowsAppear, waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * The fault proofs, with real replica processes of the reference service (dist, built by pretest),
 * released at the same instant against a fresh database per test.
 */
const KEY = advisoryLockKey('migrations', 'Migrations');
const [CLASSID, OBJID] = lockKeyAsOids(KEY);

/** All ready; a failed report shows its error in the assertion's output. */
function expectAllReady(reports: ReplicaReport[], count: number): void {
  expect(reports).toHaveLength(count);
  expect(reports.filter((r) => r.status !== 'ready')).toEqual([]);
}

describe('a fleet of replica processes under faults', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const fleets: Fleet[] = [];
  const clients: pg.Client[] = [];

  async function fleet(replicas: number, config: Omit<ReplicaConfig, 'databaseUrl'> = {}) {
    const started = await launchFleet(replicas, { databaseUrl: db.url, ...config });
    fleets.push(started);
    return started;
  }

  async function client(name: string) {
    const connected = await connectClient(db.url, name);
    // The test's own sessions must survive the idle timeouts some tests set on the database.
    await connected.query('SET idle_session_timeout = 0');
    clients.push(connected);
    return connected;
  }

  const names = (...scenarios: Scenario[]) =>
    [...referenceMigrations, ...scenarios.flatMap((s) => SCENARIOS[s])].map((m) => new m().name);

  /** Backends of replicas (application_name clusters-api:host:pid) whose last statement matches. */
  const replicaBackends = (pattern: string, count: number) =>
    rowsAppear<{ pid: number; application_name: string }>(
      observer,
      `${count} replica backend(s) running ${pattern}`,
      `SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database()
        AND application_name LIKE 'clusters-api:%' AND query LIKE $1`,
      [`%${pattern}%`],
      count,
    );

  /**
   * The backend holding the migration lock while it waits at the gate; `not` skips a holder that
   * was killed and that the server has not cleaned up yet.
   */
  const holderAtGate = async (not: { pid?: number; processPid?: number } = {}) =>
    (
      await rowsAppear<{ pid: number; application_name: string }>(
        observer,
        'the migration-lock holder waiting at the gate',
        `SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.datname = current_database() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1 AND l.objid = $2
            AND EXISTS (SELECT 1 FROM pg_locks g WHERE g.pid = l.pid AND g.locktype = 'advisory'
                          AND g.objsubid = 1 AND g.objid = $3 AND NOT g.granted)
            AND l.pid <> $4 AND a.application_name NOT LIKE $5`,
        [CLASSID, OBJID, GATE_LOCK, not.pid ?? 0, `%:${not.processPid ?? 'none'}`],
      )
    )[0];

  const tableExists = async (name: string) =>
    (await observer.query('SELECT to_regclass($1) AS t', [name])).rows[0].t !== null;
  /** The migrations TypeORM's table lists, and those the history says were applied (once each). */
  const migrationRows = async () =>
    (await observer.query('SELECT name FROM migrations ORDER BY name')).rows as Array<{
      name: string;
    }>;
  const historyRows = async () =>
    (
      await observer.query(
        `SELECT name FROM migration_lock_history WHERE status = 'applied' ORDER BY name`,
      )
    ).rows as Array<{ name: string }>;

  beforeEach(async () => {
    db = await createTestDatabase('fleet');
    observer = await connectClient(db.url, 'observer');
  });

  afterEach(async () => {
    for (const started of fleets.splice(0))
      for (const replica of started.replicas) replica.kill('SIGKILL');
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await observer.end();
    await db.drop();
  });

  it.each(['all', 'each'] as const)(
    'rolls out 8 replicas in mode %s: one applies, all ready, each migration once',
    async (transaction) => {
      const reports = await (await fleet(8, { transaction })).release();
      expectAllReady(reports, 8);
      expect(reports.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect((await checkRollout(db.url, names())).ok).toBe(true);
    },
  );

  it('control: the same fleet with plain TypeORM runMigrations (no lock) fails or applies twice', async () => {
    // The gate keeps the first replica's migration transaction open until every replica has started
    // migrating, so the race the lock prevents happens every time, not only when timing allows.
    const gate = await client('gate-keeper');
    await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const started = await fleet(6, { mode: 'unlocked', scenarios: ['gate'] });
    const since = performance.now();
    let settled = 0;
    const reporting = started.replicas.map((replica) => replica.go(since).finally(() => settled++));
    const released = Promise.all(reporting);
    // Every replica has either failed already or is inside its migration transaction.
    await pollUntil(async () => {
      const { rows } = await observer.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
            AND application_name LIKE 'clusters-api:%' AND xact_start IS NOT NULL`,
      );
      return rows[0].n + settled >= 6 ? true : undefined;
    }, 'all 6 replicas to have started migrating');
    await gate.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    const reports = await released;
    const check = await checkRollout(db.url, names('gate'));
    expect(reports.some((r) => r.status === 'failed') || !check.ok).toBe(true);
  });

  it('with the lock, the same gated fleet applies everything once', async () => {
    const gate = await client('gate-keeper');
    await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const started = await fleet(6, { scenarios: ['gate'] });
    const released = started.release();
    await holderAtGate();
    await waitersFor(observer, KEY, 5);
    await gate.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    const reports = await released;
    expectAllReady(reports, 6);
    expect((await checkRollout(db.url, names('gate'))).ok).toBe(true);
  });

  it('survives kill -9 of the holder mid-migration: never half-applied, another replica completes', async () => {
    const monkey = await ChaosMonkey.holdGate(db.url);
    const started = await fleet(4, { scenarios: ['gate'] });
    const released = started.release();
    const victim = await monkey.killHolderAtGate(started.replicas);
    // A new holder re-runs everything in its own transaction and waits at the gate again; until it
    // commits, nothing of the run is visible: all or nothing.
    const next = await holderAtGate({ processPid: victim.pid });
    expect(next.application_name).toMatch(/^clusters-api:/);
    expect(await tableExists('clusters')).toBe(false);
    // Nor of its history: the table itself was to be made in the run's transaction.
    expect(await tableExists('migration_lock_history')).toBe(false);
    await monkey.openGate();
    const reports = await released;
    expect(reports.filter((r) => r.status === 'ready')).toHaveLength(3);
    expect((await checkRollout(db.url, names('gate'))).ok).toBe(true);
    expect(await historyRows()).toEqual(await migrationRows());
  });

  it('mode each: kill -9 of the holder mid-run leaves history rows exactly for the migrations that committed', async () => {
    const monkey = await ChaosMonkey.holdGate(db.url);
    const started = await fleet(3, { transaction: 'each', scenarios: ['gate'] });
    const released = started.release();
    const victim = await monkey.killHolderAtGate(started.replicas);
    await holderAtGate({ processPid: victim.pid });
    // The reference migrations committed one by one before the gate; the gate's did not.
    const committed = await migrationRows();
    expect(committed.length).toBeGreaterThan(0);
    expect(committed.map((row) => row.name)).not.toContain('Gate1732500000005');
    expect(await historyRows()).toEqual(committed);
    await monkey.openGate();
    const reports = await released;
    expect(reports.filter((r) => r.status === 'ready')).toHaveLength(2);
    expect(await historyRows()).toEqual(await migrationRows());
  });

  it.each(['all', 'each', 'none'] as const)(
    'mode %s: a holder whose connection is terminated mid-migration fails with LOCK_LOST (not its migration); another completes',
    async (transaction) => {
      const gate = await client('gate-keeper');
      await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
      const started = await fleet(3, { transaction, scenarios: ['gate'] });
      const released = started.release();
      const first = await holderAtGate();
      await observer.query('SELECT pg_terminate_backend($1)', [first.pid]);
      // Mode none runs the gate migration without a transaction: its CREATE TABLE committed
      // before the wait, so no later holder can apply it again. Completion is all's and each's.
      if (transaction !== 'none') {
        const next = await holderAtGate({ pid: first.pid });
        expect(next.application_name).not.toBe(first.application_name);
        // All or nothing: nothing of the terminated run is visible while the next one waits.
        if (transaction === 'all') expect(await tableExists('clusters')).toBe(false);
        // In its own transaction, the running migration died with the connection.
        else expect(await tableExists('gate_passed')).toBe(false);
      }
      await gate.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
      const reports = await released;
      const victim = reports.find((r) => first.application_name.endsWith(`:${r.pid}`));
      expect(victim).toMatchObject({ status: 'failed', code: 'LOCK_LOST' });
      // Named after what ended it, as the server said.
      expect(victim?.error).toContain('terminating connection due to administrator command');
      if (transaction === 'none') return;
      expect(reports.filter((r) => r.status === 'ready')).toHaveLength(2);
      expect((await checkRollout(db.url, names('gate'))).ok).toBe(true);
    },
  );

  it.each(['all', 'each'] as const)(
    'keeps the holder through idle_session_timeout and idle_in_transaction_session_timeout of 400 ms (mode %s)',
    async (transaction) => {
      await observer.query(`ALTER DATABASE "${db.name}" SET idle_session_timeout = '400ms'`);
      await observer.query(
        `ALTER DATABASE "${db.name}" SET idle_in_transaction_session_timeout = '400ms'`,
      );
      const gate = await client('gate-keeper');
      await gate.query('SELECT pg_advisory_lock($1)', [IDLE_GATE_LOCK]);
      // The application's own pool must close idle connections before the server does (as the
      // README says); the lock connections are the module's business.
      const started = await fleet(4, {
        transaction,
        scenarios: ['idle-gate'],
        poolIdleTimeoutMs: 100,
      });
      const released = started.release();
      // The holder's migration idles in its transaction past both timeouts, and lives on.
      await rowsAppear(
        observer,
        'the holder idle in its transaction for longer than the timeouts',
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'clusters-api:%'
            AND state = 'idle in transaction' AND state_change < clock_timestamp() - interval '450 ms'`,
      );
      await gate.query('SELECT pg_advisory_unlock($1)', [IDLE_GATE_LOCK]);
      const reports = await released;
      expectAllReady(reports, 4);
      expect((await checkRollout(db.url, names('idle-gate'))).ok).toBe(true);
    },
  );

  it('stops every replica on a failing migration, naming it, and leaves the database as before but for the failed attempts (mode all)', async () => {
    const reports = await (await fleet(4, { scenarios: ['fail'] })).release();
    for (const report of reports) {
      expect(report).toMatchObject({ status: 'failed', code: 'MIGRATION_FAILED' });
      expect(report.error).toContain('Broken1732500000008');
    }
    const { rows } = await observer.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`,
    );
    expect(rows).toEqual([{ tablename: 'migration_lock_history' }]);
    // Each replica that held the lock and failed says so; nothing else is in the history.
    const { rows: history } = await observer.query(
      `SELECT DISTINCT name, status FROM migration_lock_history`,
    );
    expect(history).toEqual([{ name: 'Broken1732500000008', status: 'failed' }]);
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
  });

  it('runs CREATE INDEX CONCURRENTLY in mode each while 4 replicas wait, without hanging', async () => {
    const gate = await client('gate-keeper');
    await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const started = await fleet(5, { transaction: 'each', scenarios: ['gate', 'cic'] });
    const released = started.release();
    await holderAtGate();
    await replicaBackends('pg_try_advisory_lock', 4);
    await gate.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    const reports = await released;
    expectAllReady(reports, 5);
    const { rows } = await observer.query(
      `SELECT indisvalid FROM pg_index WHERE indexrelid = 'clusters_kind_idx'::regclass`,
    );
    expect(rows).toEqual([{ indisvalid: true }]);
    expect((await checkRollout(db.url, names('gate', 'cic'))).ok).toBe(true);
  });

  it('on SIGTERM while waiting, cancels the wait at the server and exits', async () => {
    const holder = await client('other-replica');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    const [replica] = (await fleet(1)).replicas;
    const report = replica.go(performance.now());
    await waitersFor(observer, KEY);
    replica.kill('SIGTERM');
    expect(await report).toMatchObject({ status: 'failed' });
    await replica.exited;
    expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
  });

  it('on SIGTERM while migrating in mode all, rolls everything back and releases the lock', async () => {
    const gate = await client('gate-keeper');
    await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const [replica] = (await fleet(1, { scenarios: ['gate'] })).replicas;
    const report = replica.go(performance.now());
    await holderAtGate();
    replica.kill('SIGTERM');
    expect(await report).toMatchObject({ status: 'failed' });
    await replica.exited;
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    expect(await tableExists('clusters')).toBe(false);
  });

  it('on SIGTERM while migrating in mode each, finishes the current migration and stops before the next', async () => {
    const gate = await client('gate-keeper');
    await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const [replica] = (await fleet(1, { transaction: 'each', scenarios: ['gate'] })).replicas;
    const report = replica.go(performance.now());
    await holderAtGate();
    replica.kill('SIGTERM');
    await gate.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    expect(await report).toMatchObject({ status: 'failed', code: 'LOCK_ABORTED' });
    await replica.exited;
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    const { rows } = await observer.query('SELECT name FROM migrations ORDER BY id');
    expect(rows.map((r) => r.name)).toEqual(names('gate').slice(0, -1));
    expect(await tableExists('after_gate')).toBe(false);
  });

  it('exits with LOCK_TIMEOUT naming the holder when the wait times out at start-up', async () => {
    const holder = await client('stuck-holder');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    const [report] = await (await fleet(1, { lockTimeoutMs: 300 })).release();
    expect(report).toMatchObject({ status: 'failed', code: 'LOCK_TIMEOUT' });
    expect(report.error).toContain('stuck-holder');
  });
});
