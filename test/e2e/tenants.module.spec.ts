import { NestFactory } from '@nestjs/core';
import type pg from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { TenantMigrationsFailedError } from '../../src/errors/migration.errors.js';
import { MigrationHealthIndicator } from '../../src/health/migration.health.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { MigrationLockModule } from '../../src/module/migration-lock.module.js';
import type { MigrationLockModuleOptions } from '../../src/module/interfaces/migration-lock-options.interface.js';
import { TenantMigrationService } from '../../src/tenants/tenant-migration.service.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * MigrationLockModule with `tenants`: at start-up the shared migrations first (one makes the table
 * the tenant list comes from), then every tenant schema; a failing tenant stops start-up, or is
 * reported and start-up goes on.
 */
class CreateTenants1700000000001 implements MigrationInterface {
  name = 'CreateTenants1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE tenants (schema text PRIMARY KEY)');
    await queryRunner.query("INSERT INTO tenants VALUES ('acme'), ('globex'), ('initech')");
    for (const schema of ['acme', 'globex', 'initech'])
      await queryRunner.query(`CREATE SCHEMA ${schema}`);
  }
  async down(): Promise<void> {}
}

function tenantMigration(name: string, failIn?: string) {
  return class implements MigrationInterface {
    name = name;
    async up(queryRunner: QueryRunner): Promise<void> {
      const [{ schema }] = (await queryRunner.query('SELECT current_schema() AS schema')) as [
        { schema: string },
      ];
      if (schema === failIn) throw new Error(`not in ${schema}`);
      await queryRunner.query(`CREATE TABLE ${name.toLowerCase()} (id int)`);
    }
    async down(): Promise<void> {}
  };
}

describe('MigrationLockModule with tenants', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let dataSource: DataSource;

  beforeEach(async () => {
    db = await createTestDatabase('tenants_module');
    observer = await connectClient(db.url, 'observer');
    dataSource = await openDataSource(db.url, { migrations: [CreateTenants1700000000001] });
  });

  afterEach(async () => {
    await dataSource.destroy();
    await observer.end();
    await db.drop();
  });

  const start = (options: MigrationLockModuleOptions) =>
    NestFactory.createApplicationContext(MigrationLockModule.forRoot(options), {
      logger: false,
      abortOnError: false,
    });

  const tenantsFromTable = async () =>
    (await dataSource.query('SELECT schema FROM tenants ORDER BY schema')).map(
      (row: { schema: string }) => row.schema,
    );

  it('migrates the shared schema, then every tenant read from the table it made', async () => {
    const app = await start({
      dataSource,
      tenants: {
        migrations: [tenantMigration('Orders1700000000010'), tenantMigration('Items1700000000011')],
        schemas: tenantsFromTable,
      },
    });
    const { rows } = await observer.query(
      `SELECT table_schema, count(*)::int AS n FROM information_schema.tables
        WHERE table_schema IN ('acme', 'globex', 'initech') GROUP BY 1 ORDER BY 1`,
    );
    // orders, items and the tenant's migrations table.
    expect(rows).toEqual([
      { table_schema: 'acme', n: 3 },
      { table_schema: 'globex', n: 3 },
      { table_schema: 'initech', n: 3 },
    ]);
    // A tenant signed up later: brought to current on demand.
    expect(
      await app.get(TenantMigrationService).migrateTenant('hooli', { createSchema: true }),
    ).toEqual(['Orders1700000000010', 'Items1700000000011']);
    await app.close();
  });

  it('takes tenants from forRootAsync too, with the events the issue names', async () => {
    const seen: string[] = [];
    const app = await NestFactory.createApplicationContext(
      MigrationLockModule.forRootAsync({
        useFactory: async () => ({
          dataSource,
          tenants: {
            migrations: [tenantMigration('Orders1700000000010')],
            schemas: tenantsFromTable,
          },
          events: {
            tenantStarted: ({ schema }) => void seen.push(`started ${schema}`),
            tenantMigrated: ({ schema, applied }) =>
              void seen.push(`migrated ${schema} ${applied.length}`),
            tenantsDone: ({ total, migrated }) => void seen.push(`done ${migrated}/${total}`),
          },
        }),
      }),
      { logger: false, abortOnError: false },
    );
    expect(seen.sort()).toEqual([
      'done 3/3',
      'migrated acme 1',
      'migrated globex 1',
      'migrated initech 1',
      'started acme',
      'started globex',
      'started initech',
    ]);
    await app.close();
  });

  it("stops start-up naming a failed tenant (onFailure 'fail'), or starts and reports it", async () => {
    const tenants = {
      migrations: [tenantMigration('Orders1700000000010', 'globex')],
      schemas: tenantsFromTable,
    };
    // createApplicationContext runs the bootstrap hooks: start-up itself fails.
    const error = (await start({ dataSource, tenants }).catch(
      (e: unknown) => e,
    )) as TenantMigrationsFailedError;
    expect(error).toBeInstanceOf(TenantMigrationsFailedError);
    expect(error.failures.map((f) => f.schema)).toEqual(['globex']);
    const reporting = await start({ dataSource, tenants: { ...tenants, onFailure: 'report' } });
    const { rows } = await observer.query(
      `SELECT table_schema FROM information_schema.tables WHERE table_name = 'orders1700000000010' ORDER BY 1`,
    );
    expect(rows).toEqual([{ table_schema: 'acme' }, { table_schema: 'initech' }]);
    // The replica is up (it serves the others); the failed tenant is down in the details.
    expect(reporting.get(MigrationHealthIndicator).isHealthy()).toEqual({
      migrations: expect.objectContaining({
        status: 'up',
        tenants: {
          globex: { status: 'down', migration: 'Orders1700000000010', error: 'not in globex' },
        },
      }),
    });
    // And in the runner's state, with the run's totals.
    expect(reporting.get(MigrationRunnerService).state.tenants).toEqual(
      expect.objectContaining({
        total: 3,
        // The run that failed migrated the other two: this one found them current.
        current: 2,
        failed: [expect.objectContaining({ schema: 'globex', migration: 'Orders1700000000010' })],
      }),
    );
    await reporting.close();
  });
});
