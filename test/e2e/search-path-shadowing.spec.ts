import type pg from 'pg';
import { referenceMigrations } from '../../reference/migrations/index.js';
import { launchFleet, type Fleet } from '../../reference/demo/fleet.js';
import { checkRollout } from '../../reference/demo/rollout-check.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * A schema listed before pg_catalog on the search_path can shadow the catalog's functions and
 * views for every unqualified call (the CVE-2018-1058 class): here, advisory-lock functions that
 * take nothing and an empty pg_locks, in a database whose search_path puts them first. The module
 * names pg_catalog in all its SQL, so its replicas still exclude each other.
 */
const SHADOWS = [
  `CREATE FUNCTION shadow.pg_try_advisory_xact_lock(int4, int4) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
  `CREATE FUNCTION shadow.pg_advisory_xact_lock(int4, int4) RETURNS void LANGUAGE sql AS 'SELECT NULL::void'`,
  `CREATE FUNCTION shadow.pg_advisory_xact_lock_shared(int4, int4) RETURNS void LANGUAGE sql AS 'SELECT NULL::void'`,
  `CREATE FUNCTION shadow.pg_try_advisory_lock(int4, int4) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
  `CREATE FUNCTION shadow.pg_advisory_lock(int4, int4) RETURNS void LANGUAGE sql AS 'SELECT NULL::void'`,
  `CREATE FUNCTION shadow.pg_advisory_unlock(int4, int4) RETURNS boolean LANGUAGE sql AS 'SELECT true'`,
  'CREATE VIEW shadow.pg_locks AS SELECT * FROM pg_catalog.pg_locks WHERE false',
  'CREATE VIEW shadow.pg_stat_activity AS SELECT * FROM pg_catalog.pg_stat_activity WHERE false',
];

describe('a search_path that shadows the catalog', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const fleets: Fleet[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('shadow');
    admin = await connectClient(db.url, 'observer');
    await admin.query('CREATE SCHEMA shadow');
    for (const sql of SHADOWS) await admin.query(sql);
    await admin.query(`ALTER DATABASE "${db.name}" SET search_path = shadow, pg_catalog, public`);
  });

  afterEach(async () => {
    for (const started of fleets.splice(0))
      for (const replica of started.replicas) replica.kill('SIGKILL');
    await admin.end();
    await db.drop();
  });

  it('shadows an unqualified call for a new session (the stub takes nothing)', async () => {
    const session = await connectClient(db.url, 'shadowed');
    try {
      await session.query('BEGIN');
      const { rows } = await session.query('SELECT pg_try_advisory_xact_lock(1, 2) AS taken');
      expect(rows).toEqual([{ taken: true }]);
      const held = await session.query(
        `SELECT count(*)::int AS n FROM pg_catalog.pg_locks
        WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()`,
      );
      expect(held.rows).toEqual([{ n: 0 }]);
      expect((await session.query('SELECT count(*)::int AS n FROM pg_locks')).rows).toEqual([
        { n: 0 },
      ]);
    } finally {
      await session.end();
    }
  });

  it.each(['all', 'each'] as const)(
    'mode %s: 4 replicas still exclude each other, every migration once, all ready',
    async (transaction) => {
      const started = await launchFleet(4, { databaseUrl: db.url, transaction });
      fleets.push(started);
      const reports = await started.release();
      expect(reports.filter((r) => r.status !== 'ready')).toEqual([]);
      expect(reports.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      const names = referenceMigrations.map((m) => new m().name);
      expect(await checkRollout(db.url, names)).toMatchObject({ ok: true });
    },
  );
});
