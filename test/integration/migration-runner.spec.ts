import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import {
  InvalidLockArgumentError,
  InvalidOptionsError,
  LockTimeoutError,
} from '../../src/errors/migration-lock.errors.js';
import { MigrationFailedError } from '../../src/errors/migration.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import type { MigrationEvents } from '../../src/migration-runner/migration-events.js';
import type { MigrationRunnerOptions } from '../../src/migration-runner/migration-runner.options.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { GATE_LOCK, SCENARIOS } from '../../reference/demo/scenario-migrations.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import {
  appliedOnce,
  FailingMigration1732500000099,
  migrationCounts,
  NonTransactionalMigration1732500000098,
  referenceMigrations,
  seedGeneration,
} from '../support/migration-fixtures.js';
import {
  advisoryLockRows,
  pollUntil,
  sessionLockPollers,
  waiterOnGate,
  waitersFor,
} from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

const MIGRATIONS_KEY = advisoryLockKey('migrations', 'Migrations');

describe('MigrationRunnerService on a real PostgreSQL', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];

  async function runner(
    migrations: Function[] = referenceMigrations,
    extra: {
      poolSize?: number;
      timeoutMs?: number;
      transaction?: 'all' | 'each' | 'none';
      events?: MigrationEvents;
    } = {},
  ) {
    const dataSource = await openDataSource(db.url, { migrations, poolSize: extra.poolSize });
    dataSources.push(dataSource);
    const locks = new AdvisoryLockService(dataSource);
    return new MigrationRunnerService(dataSource, locks, {
      ...DEFAULT_OPTIONS,
      timeoutMs: extra.timeoutMs ?? DEFAULT_OPTIONS.timeoutMs,
      transaction: extra.transaction ?? DEFAULT_OPTIONS.transaction,
      events: extra.events,
    });
  }

  beforeEach(async () => {
    db = await createTestDatabase('runner');
    observer = await connectClient(db.url, 'observer');
  });

  afterEach(async () => {
    await Promise.all(dataSources.splice(0).map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  it('applies pending migrations once with a pool of one connection; the next run follows', async () => {
    const first = await (await runner(referenceMigrations, { poolSize: 1 })).run();
    expect(first.outcome).toBe('applied');
    expect(first.applied).toEqual(Object.keys(appliedOnce));
    const second = await (await runner()).run();
    expect(second).toMatchObject({ outcome: 'upToDate', applied: [], waitedMs: 0, heldMs: 0 });
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
    expect(await seedGeneration((sql) => observer.query(sql))).toBe(1);
  });

  it.each(['all', 'each', 'none'] as const)(
    'mode %s writes the same migrations table rows as TypeORM runMigrations itself',
    async (transaction) => {
      await (await runner(referenceMigrations, { transaction })).run();
      const ours = await observer.query('SELECT id, "timestamp", name FROM migrations ORDER BY id');
      const other = await createTestDatabase('runner_typeorm');
      try {
        const plain = await openDataSource(other.url, { migrations: referenceMigrations });
        await plain.runMigrations({ transaction: transaction === 'none' ? 'none' : transaction });
        const theirs = await plain.query(
          'SELECT id, "timestamp", name FROM migrations ORDER BY id',
        );
        await plain.destroy();
        expect(ours.rows).toEqual(theirs);
      } finally {
        await other.drop();
      }
    },
  );

  type Rows = (sql: string, values?: unknown[]) => Promise<unknown[]>;
  const observerRows: Rows = async (sql, values) => (await observer.query(sql, values)).rows;

  /** The migrations table as the catalog describes it: columns, defaults, constraints, indexes. */
  const tableDefinition = async (rows: Rows, table: string) => ({
    columns: await rows(
      `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
              pg_get_expr(d.adbin, d.adrelid) AS "default"
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON (d.adrelid, d.adnum) = (a.attrelid, a.attnum)
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table],
    ),
    constraints: await rows(
      `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = $1::regclass ORDER BY conname`,
      [table],
    ),
    indexes: await rows(
      `SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname || '.' || tablename = $1 ORDER BY indexname`,
      [table],
    ),
  });

  /** TypeORM's own runMigrations() on `url`, with the version installed as `typeorm` or 0.3. */
  const plainTypeorm = async (
    version: '0.3' | 'installed',
    url: string,
    options: Record<string, unknown>,
  ): Promise<{ query: Rows; runMigrations(): Promise<unknown>; destroy(): Promise<void> }> => {
    if (version === 'installed')
      return openDataSource(url, { migrations: referenceMigrations, ...options });
    // The 0.3 line, installed beside 1.x for the benchmarks: its executor makes the same table.
    const { DataSource: DataSource03 } = (await import('typeorm-0.3')) as unknown as {
      DataSource: new (options: object) => { initialize(): Promise<never> };
    };
    const options03 = { type: 'postgres', url, migrations: referenceMigrations, ...options };
    return new DataSource03(options03).initialize();
  };

  it.each([
    ['the default table', 'installed', {}, 'public.migrations'],
    ['the default table', '0.3', {}, 'public.migrations'],
    [
      'migrationsTableName and a schema',
      'installed',
      { migrationsTableName: 'schema_history', schema: 'app' },
      'app.schema_history',
    ],
    [
      'migrationsTableName and a schema',
      '0.3',
      { migrationsTableName: 'schema_history', schema: 'app' },
      'app.schema_history',
    ],
  ] as const)(
    'makes the migrations table TypeORM makes, without its information_schema lookup: %s (TypeORM %s)',
    async (_case, version, options, table) => {
      const createSchema = (rows: Rows) => rows('CREATE SCHEMA IF NOT EXISTS app');
      await createSchema(observerRows);
      const dataSource = await openDataSource(db.url, {
        migrations: referenceMigrations,
        ...options,
      });
      dataSources.push(dataSource);
      await new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
        ...DEFAULT_OPTIONS,
      }).run();
      const ours = await tableDefinition(observerRows, table);
      const other = await createTestDatabase('runner_typeorm_table');
      try {
        const plain = await plainTypeorm(version, other.url, options);
        const plainRows: Rows = (sql, values) => plain.query(sql, values);
        await createSchema(plainRows);
        await plain.runMigrations();
        const theirs = await tableDefinition(plainRows, table);
        await plain.destroy();
        expect(ours.columns).toHaveLength(3);
        expect(ours).toEqual(theirs);
      } finally {
        await other.drop();
      }
    },
  );

  it('rejects a bad lock name, timeout or signal before any SQL runs', async () => {
    // Never initialized: any SQL would fail with a connection error instead.
    const { DataSource } = await import('typeorm');
    const dataSource = new DataSource({ type: 'postgres', url: db.url });
    const locks = new AdvisoryLockService(dataSource);
    const make = (options: Partial<MigrationRunnerOptions>) =>
      new MigrationRunnerService(dataSource, locks, { ...DEFAULT_OPTIONS, ...options });
    expect(() => make({ lockId: '' })).toThrow(InvalidLockArgumentError);
    expect(() => make({ timeoutMs: -1 })).toThrow(InvalidOptionsError);
    await expect(make({}).run({ signal: 'stop' as never })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
    await expect(make({}).revert({ signal: {} as never })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
  });

  it('is blocked by the Go implementation holding pg_advisory_xact_lock(457026696, -1494325336)', async () => {
    const goService = await connectClient(db.url, 'hyperfleet-api');
    await goService.query('BEGIN');
    await goService.query('SELECT pg_advisory_xact_lock(457026696, -1494325336)');
    const runs = [await runner(), await runner()].map((r) => r.run());
    await waitersFor(observer, MIGRATIONS_KEY, 2);
    expect(
      await observer.query('SELECT 1 FROM pg_tables WHERE tablename = $1', ['migrations']),
    ).toMatchObject({ rowCount: 0 });
    await goService.query('COMMIT');
    await goService.end();
    const results = await Promise.all(runs);
    // Both waited; the one that got the lock second re-read and found nothing pending.
    expect(results.map((r) => r.outcome).sort()).toEqual(['applied', 'followed']);
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
    expect(await seedGeneration((sql) => observer.query(sql))).toBe(1);
  });

  it('warns once when the DataSource has no migrations at all, and reports upToDate', async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    try {
      const empty = await runner([]);
      expect(await empty.run()).toMatchObject({ outcome: 'upToDate', applied: [] });
      expect(await empty.run()).toMatchObject({ outcome: 'upToDate' });
    } finally {
      warn.mockRestore();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('The DataSource lists no migrations');
    expect(warnings[0]).toContain('build first');
  });

  it('times out with LockTimeoutError naming the holder; the wait ends with waitEnded timeout', async () => {
    const holder = await connectClient(db.url, 'stuck-replica');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock(457026696, -1494325336)');
    const ended: unknown[] = [];
    const events = { waitEnded: (event: unknown) => void ended.push(event) };
    const attempt = (await runner(referenceMigrations, { timeoutMs: 100, events })).run();
    const error = (await attempt.catch((e: unknown) => e)) as LockTimeoutError;
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(error.holder?.applicationName).toBe('stuck-replica');
    expect(ended).toEqual([
      { lock: 'migrations/Migrations', waitedMs: expect.any(Number), outcome: 'timeout' },
    ]);
    await holder.end();
  });

  it('names a failing migration and leaves the database as before but for the failed attempt in the history (one transaction)', async () => {
    const attempt = (await runner([...referenceMigrations, FailingMigration1732500000099])).run();
    const error = (await attempt.catch((e: unknown) => e)) as MigrationFailedError;
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(error.migrationName).toBe('FailingMigration1732500000099');
    expect(error.message).toContain('FailingMigration1732500000099');
    const { rows } = await observer.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    );
    expect(rows).toEqual([{ tablename: 'migration_lock_history' }]);
    const { rows: history } = await observer.query(
      'SELECT name, status, error_code FROM migration_lock_history',
    );
    expect(history).toEqual([
      { name: 'FailingMigration1732500000099', status: 'failed', error_code: '42P01' },
    ]);
    expect(await advisoryLockRows(observer, MIGRATIONS_KEY)).toEqual([]);
  });

  it('refuses a transaction = false migration in transaction mode all, naming it', async () => {
    const attempt = (
      await runner([...referenceMigrations, NonTransactionalMigration1732500000098])
    ).run();
    const error = (await attempt.catch((e: unknown) => e)) as MigrationFailedError;
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(error.migrationName).toBe('NonTransactionalMigration1732500000098');
    expect(error.message).toMatch(/transaction/);
  });

  it('mode each: runs a transaction = false migration (CREATE INDEX CONCURRENTLY) on the lock connection', async () => {
    const result = await (
      await runner([...referenceMigrations, NonTransactionalMigration1732500000098], {
        transaction: 'each',
        poolSize: 1,
      })
    ).run();
    expect(result.applied).toContain('NonTransactionalMigration1732500000098');
    const { rows } = await observer.query(
      `SELECT indisvalid FROM pg_index WHERE indexrelid = 'clusters_kind_idx'::regclass`,
    );
    expect(rows).toEqual([{ indisvalid: true }]);
    expect(await advisoryLockRows(observer, MIGRATIONS_KEY)).toEqual([]);
  });

  it('mode each: a failing migration is rolled back alone; the ones before it stay applied', async () => {
    const attempt = (
      await runner([...referenceMigrations, FailingMigration1732500000099], { transaction: 'each' })
    ).run();
    const error = (await attempt.catch((e: unknown) => e)) as MigrationFailedError;
    expect(error.migrationName).toBe('FailingMigration1732500000099');
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
    expect((await observer.query(`SELECT to_regclass('never_kept') AS t`)).rows[0].t).toBeNull();
    expect(await advisoryLockRows(observer, MIGRATIONS_KEY)).toEqual([]);
  });

  it('mode none: applies without transactions; each and all on the same key exclude each other', async () => {
    const holder = await connectClient(db.url, 'all-mode-replica');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock(457026696, -1494325336)');
    const run = (await runner(referenceMigrations, { transaction: 'none' })).run();
    await pollUntil(
      async () => ((await sessionLockPollers(observer)).length > 0 ? true : undefined),
      'the none-mode runner to wait',
    );
    expect((await observer.query(`SELECT to_regclass('migrations') AS t`)).rows[0].t).toBeNull();
    await holder.query('COMMIT');
    await holder.end();
    expect((await run).outcome).toBe('applied');
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
  });

  it.each(['all', 'each'] as const)(
    'mode %s: replicas waiting for the holder follow it without taking the lock',
    async (transaction) => {
      const migrations = [...referenceMigrations, ...SCENARIOS.gate];
      let acquired = 0;
      const ended: string[] = [];
      const events: MigrationEvents = {
        lockAcquired: () => void acquired++,
        waitEnded: ({ outcome }) => void ended.push(outcome),
      };
      await observer.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
      const holder = (await runner(migrations, { transaction, events })).run();
      await waiterOnGate(observer, GATE_LOCK);
      const waiters = await Promise.all(
        [1, 2, 3].map(() => runner(migrations, { transaction, events })),
      );
      const waiting = waiters.map((w) => w.run());
      // Mode all waits in pg_locks (shared form); each/none polls with pg_try_advisory_lock.
      if (transaction === 'all') await waitersFor(observer, MIGRATIONS_KEY, 3);
      else
        await pollUntil(
          async () => ((await sessionLockPollers(observer)).length >= 3 ? true : undefined),
          'three waiters',
        );
      await observer.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
      expect((await holder).outcome).toBe('applied');
      for (const result of await Promise.all(waiting)) {
        expect(result).toMatchObject({ outcome: 'followed', applied: [], heldMs: 0 });
      }
      expect(acquired).toBe(1);
      // Every wait ended once: the holder's with the lock, each follower's by following.
      expect(ended.sort()).toEqual(['acquired', 'followed', 'followed', 'followed']);
      expect(await migrationCounts((sql) => observer.query(sql))).toMatchObject(appliedOnce);
    },
  );
});
