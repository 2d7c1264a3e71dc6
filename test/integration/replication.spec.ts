import type pg from 'pg';
import { DataSource } from 'typeorm';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { readLockStatus } from '../../src/status/lock-status.js';
import {
  appliedOnce,
  migrationCounts,
  referenceMigrations,
} from '../support/migration-fixtures.js';
import { holderOf } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * A DataSource with TypeORM `replication`: locks, migrations and status must use the primary. The
 * replica entry is a real, read-only database with an empty migrations table of its own: a lock
 * taken there would not exclude the primary's replicas, a migration run there would fail (25006),
 * and a read there would see every migration pending.
 */
const KEY = advisoryLockKey('migrations', 'Migrations');

describe('with TypeORM replication configured', () => {
  let primary: TestDatabase;
  let replica: TestDatabase;
  let observer: pg.Client;
  let dataSource: DataSource;

  beforeAll(async () => {
    primary = await createTestDatabase('replication_primary');
    replica = await createTestDatabase('replication_replica');
    const replicaAdmin = await connectClient(replica.url, 'setup');
    await replicaAdmin.query(
      'CREATE TABLE migrations (id serial, "timestamp" bigint NOT NULL, name varchar NOT NULL)',
    );
    await replicaAdmin.query(
      `ALTER DATABASE "${replica.name}" SET default_transaction_read_only = on`,
    );
    await replicaAdmin.end();
    observer = await connectClient(primary.url, 'observer');
    dataSource = await new DataSource({
      type: 'postgres',
      replication: { master: { url: primary.url }, slaves: [{ url: replica.url }] },
      migrations: referenceMigrations,
    }).initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    await observer.end();
    await Promise.all([primary.drop(), replica.drop()]);
  });

  it('migrates the primary, and a second run sees nothing pending without taking the lock', async () => {
    const locks = new AdvisoryLockService(dataSource);
    const first = await new MigrationRunnerService(dataSource, locks, DEFAULT_OPTIONS).run();
    expect(first.outcome).toBe('applied');
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
    const waits: unknown[] = [];
    const second = await new MigrationRunnerService(dataSource, locks, {
      ...DEFAULT_OPTIONS,
      events: { waitStarted: (event) => waits.push(event) },
    }).run();
    expect(second).toMatchObject({ outcome: 'upToDate', heldMs: 0 });
    expect(waits).toEqual([]);
  });

  it('withLock holds the lock on the primary, and status reads it there', async () => {
    const locks = new AdvisoryLockService(dataSource);
    await locks.withLock('migrations', 'Migrations', async (_, lock) => {
      expect(await holderOf(observer, KEY)).toBe(lock.backendPid);
      const status = await readLockStatus(dataSource, 'migrations', 'Migrations');
      expect(status.holder?.pid).toBe(lock.backendPid);
    });
  });
});
