import type pg from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { InvalidOptionsError } from '../../src/errors/migration-lock.errors.js';
import {
  InvalidTenantSchemaError,
  TenantMigrationsFailedError,
} from '../../src/errors/migration.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { TenantMigrationService } from '../../src/tenants/tenant-migration.service.js';
import {
  resolveTenantsOptions,
  type TenantEvents,
  type TenantsOptions,
} from '../../src/tenants/tenants.options.js';
import { advisoryLocksInDatabase } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * Tenant schemas migrated by several runners at once on a real PostgreSQL (issue #32, first part:
 * the runner, not yet wired into the module): each tenant once, in its own schema, its own
 * migrations table, a failing tenant left as it was while the others go on.
 */

type MigrationClass = new () => MigrationInterface;

/** A tenant migration that makes a table in the tenant's schema and counts itself in public. */
function tenantMigration(name: string, fail?: (schema: string) => boolean): MigrationClass {
  return class implements MigrationInterface {
    name = name;
    async up(queryRunner: QueryRunner): Promise<void> {
      const [{ schema }] = (await queryRunner.query('SELECT current_schema() AS schema')) as [
        { schema: string },
      ];
      if (fail?.(schema)) throw new Error(`${name} refuses ${schema}`);
      await queryRunner.query(`CREATE TABLE t_${name.toLowerCase()} (id int)`);
      // Unqualified: the search path finds public's table.
      await queryRunner.query('INSERT INTO tenant_effects (schema, migration) VALUES ($1, $2)', [
        schema,
        name,
      ]);
    }
    async down(): Promise<void> {}
  } as MigrationClass;
}

const MIGRATIONS = [
  tenantMigration('Accounts1700000000001'),
  tenantMigration('Invoices1700000000002'),
  tenantMigration('Notes1700000000003'),
];

/** A tenant migration that cannot run in a transaction: the tenants then run in mode each. */
class ConcurrentIndex1700000000004 implements MigrationInterface {
  name = 'ConcurrentIndex1700000000004';
  transaction = false as const;
  async up(queryRunner: QueryRunner): Promise<void> {
    // Not possible inside a transaction: the tenant runs step by step under the session lock.
    await queryRunner.query(
      'CREATE INDEX CONCURRENTLY accounts_id ON t_accounts1700000000001 (id)',
    );
    const [{ schema }] = (await queryRunner.query('SELECT current_schema() AS schema')) as [
      { schema: string },
    ];
    await queryRunner.query('INSERT INTO tenant_effects (schema, migration) VALUES ($1, $2)', [
      schema,
      this.name,
    ]);
  }
  async down(): Promise<void> {}
}

const SCHEMAS = Array.from({ length: 30 }, (_, i) => `tenant_${i}`);

describe('tenant schemas migrated by several runners at once', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];
  const rows = async (sql: string) => (await observer.query(sql)).rows;

  async function runner(
    tenants: Partial<TenantsOptions> = {},
    events?: TenantEvents,
  ): Promise<TenantMigrationService> {
    const dataSource = await openDataSource(db.url, { applicationName: 'tenant-runner' });
    dataSources.push(dataSource);
    const resolved = resolveTenantsOptions({
      migrations: MIGRATIONS,
      schemas: SCHEMAS,
      ...tenants,
    })!;
    return new TenantMigrationService(
      dataSource,
      new AdvisoryLockService(dataSource),
      { id: 'migrations', type: 'Migrations', timeoutMs: 30_000 },
      resolved,
      events,
    );
  }

  beforeEach(async () => {
    db = await createTestDatabase('tenants');
    observer = await connectClient(db.url, 'observer');
    await observer.query('CREATE TABLE tenant_effects (schema text, migration text)');
    for (const schema of SCHEMAS) await observer.query(`CREATE SCHEMA ${schema}`);
  });

  afterEach(async () => {
    await Promise.all(dataSources.splice(0).map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  it('applies every tenant migration exactly once, in its own schema, the work shared', async () => {
    const runners = await Promise.all([runner(), runner(), runner()]);
    const results = await Promise.all(runners.map((r) => r.run()));
    expect(
      await rows(
        'SELECT count(*)::int AS n, count(DISTINCT (schema, migration))::int AS distinct_n FROM tenant_effects',
      ),
    ).toEqual([{ n: 90, distinct_n: 90 }]);
    // Every tenant migrated by exactly one runner; the others found it current.
    expect(results.reduce((sum, result) => sum + result.migrated, 0)).toBe(30);
    for (const result of results) {
      expect(result.failed).toEqual([]);
      expect(result.migrated + result.current).toBe(30);
    }
    expect(
      await rows(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'tenant\\_%' AND tablename = 'migrations'`,
      ),
    ).toEqual([{ n: 30 }]);
    // A second run finds everything current.
    expect((await (await runner()).run()).current).toBe(30);
  });

  it("writes each tenant's migrations table as plain TypeORM pointed at that schema would", async () => {
    await (await runner({ schemas: ['tenant_1'] })).run();
    const plain = await openDataSource(db.url, { schema: 'tenant_2', migrations: MIGRATIONS });
    dataSources.push(plain);
    await plain.runMigrations();
    const table = (schema: string) =>
      rows(`SELECT id, "timestamp", name FROM ${schema}.migrations ORDER BY id`);
    expect(await table('tenant_1')).toEqual(await table('tenant_2'));
    const columns = (schema: string) =>
      rows(
        `SELECT column_name, data_type, is_nullable, column_default IS NOT NULL AS has_default
           FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = 'migrations' ORDER BY ordinal_position`,
      );
    expect(await columns('tenant_1')).toEqual(await columns('tenant_2'));
  });

  it('leaves a failing tenant exactly as it was and finishes the others; onFailure fail names it', async () => {
    const failing = [
      MIGRATIONS[0],
      tenantMigration('Invoices1700000000002', (schema) => schema === 'tenant_7'),
      MIGRATIONS[2],
    ];
    const failed: unknown[] = [];
    const error = (await (
      await runner({ migrations: failing }, { tenantFailed: (e) => void failed.push(e) })
    )
      .run()
      .catch((e: unknown) => e)) as TenantMigrationsFailedError;
    expect(error).toBeInstanceOf(TenantMigrationsFailedError);
    expect(error.failures).toEqual([
      {
        schema: 'tenant_7',
        migration: 'Invoices1700000000002',
        error: 'Invoices1700000000002 refuses tenant_7',
      },
    ]);
    expect(error.message).toContain('"tenant_7" at Invoices1700000000002');
    expect(failed).toHaveLength(1);
    expect(await rows(`SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_7'`)).toEqual([]);
    expect(
      await rows(`SELECT count(*)::int AS n FROM tenant_effects WHERE schema <> 'tenant_7'`),
    ).toEqual([{ n: 87 }]);
    // 'report': the run resolves with the failure.
    const reported = await (await runner({ migrations: failing, onFailure: 'report' })).run();
    expect(reported.failed.map((f) => f.schema)).toEqual(['tenant_7']);
  });

  it('refuses a schema name that is not an identifier before any SQL', async () => {
    expect(() =>
      resolveTenantsOptions({ migrations: MIGRATIONS, schemas: ['tenant_1', 'x; DROP TABLE y'] }),
    ).toThrow(InvalidOptionsError);
    const fromTable = await runner({ schemas: async () => ['tenant_1', 'bad-name'] });
    await expect(fromTable.run()).rejects.toBeInstanceOf(InvalidTenantSchemaError);
    expect(await rows('SELECT count(*)::int AS n FROM tenant_effects')).toEqual([{ n: 0 }]);
  });

  it('a missing schema is a failed tenant, or is created with createSchemas', async () => {
    const missing = await runner({ schemas: ['tenant_new'], onFailure: 'report' });
    expect((await missing.run()).failed).toEqual([
      expect.objectContaining({
        schema: 'tenant_new',
        error: expect.stringContaining('does not exist'),
      }),
    ]);
    const creating = await runner({ schemas: ['tenant_new'], createSchemas: true });
    expect((await creating.run()).migrated).toBe(1);
  });

  it('migrateTenant from 3 runners at once for a new schema: applied once', async () => {
    const runners = await Promise.all([runner(), runner(), runner()]);
    const applied = await Promise.all(
      runners.map((r) => r.migrateTenant('signup_42', { createSchema: true })),
    );
    expect(applied.map((names) => names.length).sort()).toEqual([0, 0, 3]);
    expect(
      await rows(`SELECT count(*)::int AS n FROM tenant_effects WHERE schema = 'signup_42'`),
    ).toEqual([{ n: 3 }]);
  });

  it('mode each when a migration opts out of transactions: once per tenant, each step committed with its row', async () => {
    const failing = tenantMigration('Notes1700000000003', (schema) => schema === 'tenant_3');
    const migrations = [MIGRATIONS[0], MIGRATIONS[1], failing, ConcurrentIndex1700000000004];
    const schemas = SCHEMAS.slice(0, 8);
    const runners = await Promise.all(
      [1, 2, 3].map(() => runner({ migrations, schemas, onFailure: 'report' })),
    );
    const results = await Promise.all(runners.map((r) => r.run()));
    expect(
      await rows(
        'SELECT count(*)::int AS n, count(DISTINCT (schema, migration))::int AS distinct_n FROM tenant_effects',
      ),
    ).toEqual([{ n: 7 * 4 + 2, distinct_n: 7 * 4 + 2 }]);
    expect(results.reduce((sum, result) => sum + result.migrated, 0)).toBe(7);
    // Every replica ends knowing of the failure (it tried the tenant itself).
    for (const result of results) expect(result.failed.map((f) => f.schema)).toEqual(['tenant_3']);
    // Step by step: what committed before the failing migration stays, with its rows.
    expect(await rows('SELECT name FROM tenant_3.migrations ORDER BY id')).toEqual([
      { name: 'Accounts1700000000001' },
      { name: 'Invoices1700000000002' },
    ]);
    expect(
      await rows(
        `SELECT count(*)::int AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE c.relname = 'accounts_id' AND i.indisvalid`,
      ),
    ).toEqual([{ n: 7 }]);
    // No session lock left behind, no search path leaked to the pool.
    expect(await advisoryLocksInDatabase(observer)).toBe(0);
  });

  it("mode each: an invalid index outside the tenant's schema is not the tenant's (another tenant's build, a left-over)", async () => {
    // An interrupted CONCURRENTLY build leaves an invalid index: here in public.
    await observer.query('CREATE TABLE dups (v int); INSERT INTO dups VALUES (1), (1)');
    await expect(
      observer.query('CREATE UNIQUE INDEX CONCURRENTLY dups_v ON dups (v)'),
    ).rejects.toThrow();
    const result = await (
      await runner({
        migrations: [MIGRATIONS[0], ConcurrentIndex1700000000004],
        schemas: SCHEMAS.slice(0, 3),
      })
    ).run();
    expect(result).toMatchObject({ migrated: 3, failed: [] });
  });

  it('reports progress after every tenant, and stops claiming tenants when aborted', async () => {
    const seen: number[] = [];
    const result = await (
      await runner({ schemas: SCHEMAS.slice(0, 5) })
    ).run({ onProgress: (progress) => void seen.push(progress.done) });
    expect(result.migrated).toBe(5);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    const controller = new AbortController();
    controller.abort(new Error('shutdown'));
    await expect((await runner()).run({ signal: controller.signal })).rejects.toMatchObject({
      code: 'LOCK_ABORTED',
    });
    expect(
      await rows(`SELECT count(*)::int AS n FROM tenant_effects WHERE schema = 'tenant_9'`),
    ).toEqual([{ n: 0 }]);
  });
});
