import { jest } from '@jest/globals';
import { Inject, Injectable, Logger, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { connect } from 'node:net';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import {
  AdvisoryLockService,
  DataSourceConfigError,
  InjectAdvisoryLockService,
  InjectMigrationRunner,
  InvalidOptionsError,
  MigrationHealthIndicator,
  MigrationFailedError,
  MigrationLockModule,
  MigrationRunnerService,
  type MigrationLockModuleOptions,
} from '../../src/index.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { findFreePort } from '../../reference/runtime/free-port.js';
import { AppModule } from '../../reference/service/app.module.js';
import {
  appliedOnce,
  FailingMigration1732500000099,
  migrationCounts,
  referenceMigrations,
  seedGeneration,
} from '../support/migration-fixtures.js';
import { waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

const MIGRATIONS_KEY = advisoryLockKey('migrations', 'Migrations');

describe('MigrationLockModule in a Nest application', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const apps: INestApplication[] = [];

  const query = (sql: string) => observer.query(sql);

  async function createApp(
    imports: NonNullable<Parameters<typeof Test.createTestingModule>[0]['imports']>,
  ) {
    const moduleRef = await Test.createTestingModule({ imports }).compile();
    const app = moduleRef.createNestApplication();
    apps.push(app);
    return app;
  }

  /** Compile and init: configuration errors surface while providers are created, migration errors in init(). */
  async function startFailure(imports: Parameters<typeof createApp>[0]): Promise<unknown> {
    try {
      await (await createApp(imports)).init();
    } catch (error) {
      return error;
    }
    throw new Error('expected start-up to fail');
  }

  const typeorm = (extra: Record<string, unknown> = {}) =>
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: db.url,
      migrations: referenceMigrations,
      retryAttempts: 0,
      ...extra,
    });

  beforeEach(async () => {
    db = await createTestDatabase('module');
    observer = await connectClient(db.url, 'observer');
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
    await observer.end();
    await db.drop();
  });

  it('applies migrations in app.init() and exports the lock and runner services', async () => {
    const app = await createApp([typeorm(), MigrationLockModule.forRoot({})]);
    await app.init();
    expect(await migrationCounts(query)).toEqual(appliedOnce);
    expect(await seedGeneration(query)).toBe(1);
    expect(app.get(AdvisoryLockService)).toBeInstanceOf(AdvisoryLockService);
    expect(app.get(MigrationRunnerService)).toBeInstanceOf(MigrationRunnerService);
  });

  it('keeps the port closed while a replica waits for the lock; listen() completes after it', async () => {
    const holder = await connectClient(db.url, 'other-replica');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock(457026696, -1494325336)');
    const moduleRef = await Test.createTestingModule({
      imports: [AppModule.register({ databaseUrl: db.url })],
    }).compile();
    const app = moduleRef.createNestApplication();
    apps.push(app);
    const port = await findFreePort();
    const listening = app.listen(port, '127.0.0.1');
    await waitersFor(observer, MIGRATIONS_KEY);
    expect(await portAccepts(port)).toBe(false);
    await holder.query('COMMIT');
    await holder.end();
    await listening;
    expect(await portAccepts(port)).toBe(true);
    const response = await fetch(`http://127.0.0.1:${port}/clusters`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { total: number }).total).toBe(1);
  });

  it('applies each migration once when several apps start together in one process', async () => {
    const started = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const app = await createApp([typeorm(), MigrationLockModule.forRoot({})]);
        return app;
      }),
    );
    await Promise.all(started.map((app) => app.init()));
    expect(await migrationCounts(query)).toEqual(appliedOnce);
    expect(await seedGeneration(query)).toBe(1);
  });

  it('control: the same apps running plain TypeORM runMigrations together apply twice or fail', async () => {
    @Injectable()
    class PlainMigrations {
      constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}
      run() {
        return this.dataSource.runMigrations({ transaction: 'all' });
      }
    }
    @Module({ providers: [PlainMigrations], exports: [PlainMigrations] })
    class PlainModule {}
    const started = await Promise.all(
      Array.from({ length: 4 }, () => createApp([typeorm(), PlainModule])),
    );
    await Promise.all(started.map((app) => app.init()));
    const outcomes = await Promise.allSettled(started.map((app) => app.get(PlainMigrations).run()));
    const failed = outcomes.filter((o) => o.status === 'rejected').length;
    const counts = await migrationCounts(query).catch(() => ({}));
    const doubled = Object.values(counts).some((n) => n > 1);
    expect(failed > 0 || doubled).toBe(true);
  });

  it('works with a named @nestjs/typeorm DataSource (dataSourceName)', async () => {
    const app = await createApp([
      typeorm({ name: 'fleet' }),
      MigrationLockModule.forRoot({ dataSourceName: 'fleet' }),
    ]);
    await app.init();
    expect(await migrationCounts(query)).toEqual(appliedOnce);
  });

  it('is global: a feature module and a health module inject its services without importing it', async () => {
    @Injectable()
    class Reports {
      constructor(readonly locks: AdvisoryLockService) {}
    }
    @Module({ providers: [Reports], exports: [Reports] })
    class ReportsModule {}
    @Injectable()
    class Health {
      constructor(readonly migrations: MigrationHealthIndicator) {}
    }
    @Module({ providers: [Health], exports: [Health] })
    class HealthModule {}
    const app = await createApp([
      typeorm(),
      MigrationLockModule.forRoot(),
      ReportsModule,
      HealthModule,
    ]);
    await app.init();
    expect(await app.get(Reports).locks.withLock('r', 'Jobs', async () => 'ran')).toBe('ran');
    expect(app.get(Health).migrations.isHealthy().migrations.status).toBe('up');
  });

  it('with several DataSources, each registration is injected by its name and locks its own database', async () => {
    const other = await createTestDatabase('module_other');
    try {
      @Injectable()
      class TwoDatabases {
        constructor(
          readonly main: AdvisoryLockService,
          @InjectAdvisoryLockService('fleet') readonly fleet: AdvisoryLockService,
          @InjectMigrationRunner('fleet') readonly fleetRunner: MigrationRunnerService,
        ) {}
      }
      @Module({ providers: [TwoDatabases] })
      class FeatureModule {}
      const app = await createApp([
        typeorm(),
        TypeOrmModule.forRoot({
          name: 'fleet',
          type: 'postgres',
          url: other.url,
          migrations: referenceMigrations,
          retryAttempts: 0,
        }),
        MigrationLockModule.forRoot(),
        MigrationLockModule.forRoot({ dataSourceName: 'fleet' }),
        FeatureModule,
      ]);
      await app.init();
      const both = app.get(TwoDatabases);
      expect(both.main).not.toBe(both.fleet);
      expect(both.fleetRunner.state.phase).toBe('done');
      const database = (locks: AdvisoryLockService) =>
        locks.withLock('which', 'Jobs', async (manager) => {
          const [row] = (await manager.query('SELECT current_database() AS db')) as [
            { db: string },
          ];
          return row.db;
        });
      expect(await database(both.main)).toBe(db.name);
      expect(await database(both.fleet)).toBe(other.name);
      const otherObserver = await connectClient(other.url, 'observer');
      expect(await migrationCounts((sql) => otherObserver.query(sql))).toEqual(appliedOnce);
      await otherObserver.end();
      await app.close();
    } finally {
      await other.drop();
    }
  });

  it("keeps the DataSource's applicationName in the lock connections' application_name", async () => {
    const app = await createApp([
      typeorm({ applicationName: 'orders-api' }),
      MigrationLockModule.forRoot(),
    ]);
    await app.init();
    const name = await app.get(AdvisoryLockService).withLock('n', 'Jobs', async (manager) => {
      const [row] = (await manager.query(`SELECT current_setting('application_name') AS name`)) as [
        { name: string },
      ];
      return row.name;
    });
    expect(name).toMatch(new RegExp(`^orders-api:.+:${process.pid}$`));
  });

  it('supports forRootAsync with useFactory and inject', async () => {
    @Module({ providers: [{ provide: 'LOCK_TIMEOUT', useValue: 1234 }], exports: ['LOCK_TIMEOUT'] })
    class ConfigModule {}
    const app = await createApp([
      typeorm({ name: 'fleet' }),
      MigrationLockModule.forRootAsync({
        dataSourceName: 'fleet',
        imports: [ConfigModule],
        inject: ['LOCK_TIMEOUT'],
        useFactory: (timeoutMs: number): MigrationLockModuleOptions => ({ timeoutMs }),
      }),
    ]);
    await app.init();
    expect(await migrationCounts(query)).toEqual(appliedOnce);
  });

  it('supports forRootAsync with useClass', async () => {
    @Injectable()
    class LockOptionsFactory {
      createMigrationLockOptions(): MigrationLockModuleOptions {
        return { runOnBootstrap: false };
      }
    }
    const app = await createApp([
      typeorm(),
      MigrationLockModule.forRootAsync({ useClass: LockOptionsFactory }),
    ]);
    await app.init();
    const { rowCount } = await observer.query(
      `SELECT 1 FROM pg_tables WHERE tablename = 'migrations'`,
    );
    expect(rowCount).toBe(0);
    const result = await app.get(MigrationRunnerService).run();
    expect(result.outcome).toBe('applied');
  });

  it('initializes a DataSource given directly, and destroys only what it initialized', async () => {
    const owned = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: referenceMigrations,
    });
    const app = await createApp([MigrationLockModule.forRoot({ dataSource: owned })]);
    await app.init();
    expect(owned.isInitialized).toBe(true);
    expect(await migrationCounts(query)).toEqual(appliedOnce);
    await app.close();
    expect(owned.isInitialized).toBe(false);

    const callers = await new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: referenceMigrations,
    }).initialize();
    const second = await createApp([MigrationLockModule.forRoot({ dataSource: callers })]);
    await second.init();
    await second.close();
    expect(callers.isInitialized).toBe(true);
    await callers.destroy();
  });

  it('refuses to start when the DataSource has migrationsRun: true, saying how to fix it', async () => {
    const unsafe = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: referenceMigrations,
      migrationsRun: true,
    });
    const error = (await startFailure([
      MigrationLockModule.forRoot({ dataSource: unsafe }),
    ])) as DataSourceConfigError;
    expect(error).toBeInstanceOf(DataSourceConfigError);
    expect(error.message).toMatch(/migrationsRun: false/);
    expect(error.message).toMatch(/would run migrations.*nothing was run/);
    expect(unsafe.isInitialized).toBe(false);
  });

  it('with @nestjs/typeorm and migrationsRun: true, says the migrations already ran without the lock', async () => {
    const error = (await startFailure([
      typeorm({ migrationsRun: true }),
      MigrationLockModule.forRoot(),
    ])) as DataSourceConfigError;
    expect(error).toBeInstanceOf(DataSourceConfigError);
    expect(error.message).toMatch(/already ran the pending migrations.*without any lock/);
  });

  it('warns that synchronize and dropSchema run outside the lock', async () => {
    const warnings: string[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => {
      warnings.push(String(message));
    });
    try {
      const app = await createApp([
        typeorm({ synchronize: true, dropSchema: true }),
        MigrationLockModule.forRoot({ runOnBootstrap: false }),
      ]);
      await app.init();
    } finally {
      warn.mockRestore();
    }
    expect(warnings.join('\n')).toMatch(
      /synchronize: true and dropSchema: true.*outside the migration lock/,
    );
  });

  it('says how to fix a missing DataSource', async () => {
    const error = (await startFailure([MigrationLockModule.forRoot({})])) as DataSourceConfigError;
    expect(error).toBeInstanceOf(DataSourceConfigError);
    expect(error.message).toMatch(/TypeOrmModule\.forRoot/);
  });

  it('rejects bad options at start-up', async () => {
    for (const options of [
      { timeoutMs: -1 },
      { lockId: '' },
      { transaction: 'sometimes' },
      { runOnBootstap: true },
    ]) {
      // Options are checked before any DataSource is looked at.
      const error = await startFailure([
        MigrationLockModule.forRoot(options as MigrationLockModuleOptions),
      ]);
      expect(error).toBeInstanceOf(InvalidOptionsError);
    }
  });

  it('aborts start-up with the failing migration named, and rolls everything back but the failed attempt', async () => {
    const error = (await startFailure([
      typeorm({ migrations: [...referenceMigrations, FailingMigration1732500000099] }),
      MigrationLockModule.forRoot({}),
    ])) as MigrationFailedError;
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(error.migrationName).toBe('FailingMigration1732500000099');
    const { rows } = await observer.query(
      `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`,
    );
    expect(rows).toEqual([{ tablename: 'migration_lock_history' }]);
    const { rows: history } = await observer.query(
      'SELECT name, status FROM migration_lock_history',
    );
    expect(history).toEqual([{ name: 'FailingMigration1732500000099', status: 'failed' }]);
  });
});

/** Whether a TCP connection to 127.0.0.1:port is accepted right now. */
function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
