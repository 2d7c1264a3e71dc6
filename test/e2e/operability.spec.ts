import { Module, type INestApplication } from '@nestjs/common';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import type pg from 'pg';
import {
  MigrationFailedError,
  MigrationHealthIndicator,
  MigrationLockModule,
  MigrationRunnerService,
  type MigrationLockEvents,
  type MigrationLockModuleOptions,
} from '../../src/index.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import {
  FailingMigration1732500000099,
  referenceMigrations,
} from '../support/migration-fixtures.js';
import { waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

const KEY = advisoryLockKey('migrations', 'Migrations');

describe('operability: migration state, health indicator, events', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const apps: INestApplication[] = [];

  async function createApp(
    options: MigrationLockModuleOptions,
    migrations: Function[] = referenceMigrations,
  ) {
    @Module({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: db.url, migrations, retryAttempts: 0 }),
        MigrationLockModule.forRoot(options),
        TerminusModule.forRoot({ logger: false }),
      ],
    })
    class TestAppModule {}
    const moduleRef = await Test.createTestingModule({ imports: [TestAppModule] }).compile();
    const app = moduleRef.createNestApplication();
    apps.push(app);
    return app;
  }

  function recorder() {
    const seen: Array<[string, unknown]> = [];
    const events: MigrationLockEvents = {
      waitStarted: (e) => void seen.push(['waitStarted', e]),
      waitEnded: (e) => void seen.push(['waitEnded', e]),
      lockAcquired: (e) => void seen.push(['lockAcquired', e]),
      migrationApplied: (e) => void seen.push(['migrationApplied', e]),
      lockReleased: (e) => void seen.push(['lockReleased', e]),
      failed: (e) => void seen.push(['failed', e]),
    };
    return { seen, events };
  }

  beforeEach(async () => {
    db = await createTestDatabase('ops');
    observer = await connectClient(db.url, 'observer');
  });

  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close().catch(() => undefined)));
    await observer.end();
    await db.drop();
  });

  it('emits wait started, wait ended, lock acquired, each migration applied, lock released — in order', async () => {
    const { seen, events } = recorder();
    const app = await createApp({ events });
    await app.init();
    expect(seen.map(([name]) => name)).toEqual([
      'waitStarted',
      'waitEnded',
      'lockAcquired',
      'migrationApplied',
      'migrationApplied',
      'migrationApplied',
      'migrationApplied',
      'lockReleased',
    ]);
    expect(seen[0][1]).toEqual({ lock: 'migrations/Migrations' });
    expect(seen[1][1]).toMatchObject({ lock: 'migrations/Migrations', outcome: 'acquired' });
    expect(seen[3][1]).toMatchObject({
      name: 'CreateClusters1732500000001',
      durationMs: expect.any(Number),
    });
    expect(seen.at(-1)![1]).toMatchObject({
      lock: 'migrations/Migrations',
      heldMs: expect.any(Number),
    });
    expect(app.get(MigrationRunnerService).state).toMatchObject({
      phase: 'done',
      outcome: 'applied',
    });
  });

  it('emits failed and shows phase failed with the error code; a throwing listener changes nothing', async () => {
    const { seen, events } = recorder();
    const app = await createApp(
      {
        events: {
          ...events,
          waitStarted: () => {
            throw new Error('listener bug');
          },
        },
      },
      [...referenceMigrations, FailingMigration1732500000099],
    );
    await expect(app.init()).rejects.toBeInstanceOf(MigrationFailedError);
    expect(seen.at(-1)![0]).toBe('failed');
    expect(app.get(MigrationRunnerService).state).toMatchObject({
      phase: 'failed',
      errorCode: 'MIGRATION_FAILED',
    });
    expect(app.get(MigrationHealthIndicator).isHealthy()).toMatchObject({
      migrations: { status: 'down', phase: 'failed' },
    });
  });

  it('readiness through @nestjs/terminus: down while waiting for the lock, up when done', async () => {
    const holder = await connectClient(db.url, 'other-replica');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    const app = await createApp({});
    const health = app.get(HealthCheckService);
    const indicator = app.get(MigrationHealthIndicator);
    expect(indicator.isHealthy()).toMatchObject({ migrations: { status: 'down', phase: 'idle' } });
    const init = app.init();
    await waitersFor(observer, KEY);
    expect(indicator.isHealthy()).toMatchObject({
      migrations: { status: 'down', phase: 'waiting' },
    });
    await expect(health.check([() => indicator.isHealthy()])).rejects.toThrow();
    await holder.query('COMMIT');
    await holder.end();
    await init;
    await expect(health.check([() => indicator.isHealthy('schema')])).resolves.toMatchObject({
      status: 'ok',
      info: { schema: { status: 'up', phase: 'done', outcome: 'applied' } },
    });
  });

  it('is ready when the replica does not run migrations itself (runOnBootstrap: false)', async () => {
    const app = await createApp({ runOnBootstrap: false });
    await app.init();
    expect(app.get(MigrationHealthIndicator).isHealthy()).toMatchObject({
      migrations: { status: 'up', phase: 'idle' },
    });
  });
});
