import { spawn } from 'node:child_process';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { launchFleet, type Fleet, type ReplicaReport } from '../../reference/demo/fleet.js';
import type { ReplicaConfig } from '../../reference/demo/replica-protocol.js';
import {
  LockAbortedError,
  SessionLockThroughPoolerError,
  TestDatabaseThroughPoolerError,
} from '../../src/errors/migration-lock.errors.js';
import { createTestDatabase as createMigratedDatabase } from '../../src/testing/index.js';
import { namesFor } from '../../src/testing/test-database-names.js';
import { referenceMigrations } from '../../reference/migrations/index.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import {
  CREATE_COUNTER_SQL,
  incrementCounter,
  runCounterWorkload,
} from '../support/counter-workload.js';
import { appliedOnce, migrationCounts, seedGeneration } from '../support/migration-fixtures.js';
import { advisoryLockRows, waitersFor } from '../support/observe.js';
import {
  pgbouncerInstalled,
  startPgBouncer,
  type PgBouncer,
  type PoolMode,
} from '../support/pgbouncer.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * The module behind a real PgBouncer (Debian package; .ci/run installs it), in front of the test
 * server, in transaction and in session pooling. Without it, outside CI, the suite says so and
 * is skipped; in CI a missing pgbouncer fails.
 */
const runs = pgbouncerInstalled() || process.env.CI === 'true';
if (!runs)
  console.warn(
    'pgbouncer is not installed: the pooler tests are skipped (apt-get install pgbouncer)',
  );
const KEY = advisoryLockKey('migrations', 'Migrations');
const CLI = 'dist/esm/cli/main.js';

/** Transaction pooling as the field report ran it (2 server connections); session pooling needs one per client. */
const POOL_SIZE: Record<PoolMode, number> = { transaction: 2, session: 60 };

(runs ? describe.each : describe.skip.each)(['transaction', 'session'] as PoolMode[])(
  'behind PgBouncer in %s pooling',
  (poolMode) => {
    let bouncer: PgBouncer;
    let db: TestDatabase;
    let observer: pg.Client;
    const fleets: Fleet[] = [];
    const dataSources: DataSource[] = [];

    beforeAll(async () => {
      bouncer = await startPgBouncer(
        process.env.MIGRATION_LOCK_TEST_ADMIN_URL!,
        poolMode,
        POOL_SIZE[poolMode],
      );
    });
    afterAll(() => bouncer.stop());

    beforeEach(async () => {
      db = await createTestDatabase(`pooler_${poolMode}`);
      observer = await connectClient(db.url, 'observer');
    });

    afterEach(async () => {
      for (const started of fleets.splice(0))
        for (const replica of started.replicas) replica.kill('SIGKILL');
      await Promise.all(dataSources.splice(0).map((ds) => ds.destroy().catch(() => undefined)));
      await observer.end();
      await db.drop();
    });

    async function rollout(config: Omit<ReplicaConfig, 'databaseUrl'>): Promise<ReplicaReport[]> {
      const started = await launchFleet(8, { databaseUrl: bouncer.url(db.name), ...config });
      fleets.push(started);
      return started.release();
    }

    const applied = async () =>
      (await observer.query(`SELECT to_regclass('migrations') AS t`)).rows[0].t === null
        ? {}
        : migrationCounts((sql) => observer.query(sql));

    it('createTestDatabase refuses options through the pooler before it creates any database', async () => {
      const dataSourceOptions = {
        type: 'postgres' as const,
        url: bouncer.url(db.name),
        migrations: referenceMigrations,
      };
      const { namespace } = await namesFor(dataSourceOptions);
      const attempt = createMigratedDatabase({ dataSourceOptions, prepareNext: false });
      await expect(attempt).rejects.toBeInstanceOf(TestDatabaseThroughPoolerError);
      await expect(attempt).rejects.toMatchObject({ code: 'TEST_DATABASE_THROUGH_POOLER' });
      const { rows } = await observer.query(
        `SELECT datname FROM pg_database WHERE starts_with(datname, $1)`,
        [`mlt_${namespace}_`],
      );
      expect(rows).toEqual([]);
      expect((await observer.query(`SELECT to_regclass('migrations') AS t`)).rows[0].t).toBeNull();
    });

    it('mode all: 8 replica processes apply every migration exactly once', async () => {
      const reports = await rollout({ transaction: 'all' });
      expect(reports.filter((r) => r.status !== 'ready')).toEqual([]);
      expect(await applied()).toEqual(appliedOnce);
      expect(await seedGeneration((sql) => observer.query(sql))).toBe(1);
    });

    it.each(['each', 'none'] as const)(
      'mode %s: every replica refuses the session lock, naming the fix; nothing is applied',
      async (transaction) => {
        const reports = await rollout({ transaction });
        expect(reports.map((r) => r.code)).toEqual(
          Array(8).fill(SessionLockThroughPoolerError.code),
        );
        expect(reports[0].error).toMatch(/transaction: 'all'.*directUrl/);
        expect(await applied()).toEqual({});
        expect(await advisoryLockRows(observer, KEY)).toEqual([]);
      },
    );

    it.each(['each', 'none'] as const)(
      'mode %s with directUrl: the app stays on the pooler, the lock and migrations go direct, exactly once',
      async (transaction) => {
        const reports = await rollout({ transaction, directUrl: db.url });
        expect(reports.filter((r) => r.status !== 'ready')).toEqual([]);
        expect(reports.filter((r) => r.outcome === 'applied')).toHaveLength(1);
        expect(await applied()).toEqual(appliedOnce);
        expect(await seedGeneration((sql) => observer.query(sql))).toBe(1);
      },
    );

    it('withLock keeps a read-modify-write counter exact across 6 DataSources', async () => {
      await observer.query(CREATE_COUNTER_SQL);
      const services = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const dataSource = await openDataSource(bouncer.url(db.name), { poolSize: 2 });
          dataSources.push(dataSource);
          return new AdvisoryLockService(dataSource);
        }),
      );
      const value = await runCounterWorkload(observer, 6, 5, (worker) =>
        services[worker].withLock('jobs', 'Counter', (manager) => incrementCounter(manager)),
      );
      expect(value).toBe(30);
    });

    it('an AbortSignal ends a wait with LockAbortedError, and nothing is left waiting', async () => {
      const dataSource = await openDataSource(bouncer.url(db.name), { poolSize: 1 });
      dataSources.push(dataSource);
      const locks = new AdvisoryLockService(dataSource);
      const holder = await connectClient(db.url, 'holder-app');
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
      try {
        const controller = new AbortController();
        const waiting = locks
          .withLock('migrations', 'Migrations', async () => 'ran', {
            signal: controller.signal,
            timeoutMs: 0,
          })
          .catch((error: unknown) => error);
        await waitersFor(observer, KEY);
        controller.abort();
        expect(await waiting).toBeInstanceOf(LockAbortedError);
        expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
      } finally {
        await holder.end();
      }
    });

    it('SIGTERM of the CLI while it waits exits 75, and nothing is left waiting', async () => {
      const holder = await connectClient(db.url, 'holder-app');
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
      try {
        const cli = spawn(
          process.execPath,
          [CLI, 'run', '-d', 'test/fixtures/data-source.mjs', '--timeout', '0'],
          { env: { ...process.env, DATABASE_URL: bouncer.url(db.name) }, stdio: 'ignore' },
        );
        const exited = new Promise<number | null>((resolve) => cli.once('exit', resolve));
        await waitersFor(observer, KEY);
        cli.kill('SIGTERM');
        expect(await exited).toBe(75);
        expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
      } finally {
        await holder.end();
      }
    });
  },
);
