import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { LockedJobRunner } from '../../src/jobs/locked-job.runner.js';
import { lockedJob } from '../../src/jobs/locked-job.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey, type AdvisoryLockKey } from '../../src/lock/lock-key.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { referenceMigrations } from '../support/migration-fixtures.js';
import { deferred } from '../support/deferred.js';
import { holderOf, waitersFor } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * A database whose default_transaction_isolation is repeatable read or serializable. The lock is
 * taken by a SELECT, and in those levels a transaction's first SELECT fixes its one snapshot: a
 * lock transaction that waited would run its work on a snapshot from before the previous holder
 * committed. Every test makes the lock wait behind a holder, observed in pg_locks, and checks that
 * the work sees what that holder committed.
 */
const LEVELS = ['repeatable read', 'serializable'] as const;

describe.each(LEVELS)('locks on a database whose default isolation is %s', (level) => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];

  async function dataSource(migrations: Function[] = []): Promise<DataSource> {
    const opened = await openDataSource(db.url, { migrations });
    dataSources.push(opened);
    return opened;
  }

  /** Another replica holding `key` in its open transaction; commit it with the returned function. */
  async function holdElsewhere(key: AdvisoryLockKey): Promise<() => Promise<void>> {
    const client = await connectClient(db.url, 'other-replica');
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...key]);
    await holderOf(observer, key);
    return async () => {
      await client.query('COMMIT');
      await client.end();
    };
  }

  beforeEach(async () => {
    db = await createTestDatabase('isolation');
    observer = await connectClient(db.url, 'observer');
    await observer.query(
      `ALTER DATABASE "${db.name}" SET default_transaction_isolation = '${level}'`,
    );
  });

  afterEach(async () => {
    await Promise.all(dataSources.splice(0).map((opened) => opened.destroy()));
    await observer.end();
    await db.drop();
  });

  it('withLock: a waiter sees what the holder before it committed', async () => {
    await observer.query('CREATE TABLE done (id int NOT NULL)');
    const source = await dataSource();
    expect((await source.query('SHOW transaction_isolation'))[0].transaction_isolation).toBe(level);
    const locks = new AdvisoryLockService(source);
    const key = advisoryLockKey('isolation', 'Test');
    const holderMayCommit = deferred();
    const holder = locks.withLock('isolation', 'Test', async (manager) => {
      await manager.query('INSERT INTO done VALUES (1)');
      await holderMayCommit.promise;
    });
    await holderOf(observer, key);
    const waiter = locks.withLock('isolation', 'Test', async (manager) => {
      const [{ n }] = await manager.query('SELECT count(*)::int AS n FROM done');
      return n as number;
    });
    await waitersFor(observer, key, 1);
    holderMayCommit.resolve();
    await holder;
    await expect(waiter).resolves.toBe(1);
  });

  it('revert: two reverts that waited for the lock revert the last two migrations, one each', async () => {
    const names = referenceMigrations.map((Migration) => new Migration().name);
    const runner = async () => {
      const source = await dataSource(referenceMigrations);
      return new MigrationRunnerService(source, new AdvisoryLockService(source), DEFAULT_OPTIONS);
    };
    const [first, second] = [await runner(), await runner()];
    await first.run();
    const migrationKey = advisoryLockKey(DEFAULT_OPTIONS.lockId, DEFAULT_OPTIONS.lockType);
    const commitHolder = await holdElsewhere(migrationKey);
    const reverts = [first.revert(), second.revert()];
    await waitersFor(observer, migrationKey, 2);
    await commitHolder();
    const reverted = await Promise.all(reverts);
    expect(reverted.sort()).toEqual(names.slice(-2).sort());
    const { rows } = await observer.query<{ name: string }>(
      'SELECT name FROM migrations ORDER BY id',
    );
    expect(rows.map((row) => row.name)).toEqual(names.slice(0, -2));
  });

  it("a job with oncePer and onHeld 'wait' runs once per period: the replica that waited skips", async () => {
    const job = lockedJob('isolation-report', { oncePer: 'day', onHeld: 'wait' }, 'Jobs.report');
    const runners = [
      new LockedJobRunner(new AdvisoryLockService(await dataSource()), 'job_runs', undefined),
      new LockedJobRunner(new AdvisoryLockService(await dataSource()), 'job_runs', undefined),
    ];
    const jobKey = advisoryLockKey(job.id, job.type);
    const commitHolder = await holdElsewhere(jobKey);
    let runs = 0;
    const ticks = runners.map((runner) => runner.run(job, () => ++runs));
    await waitersFor(observer, jobKey, 2);
    await commitHolder();
    const outcomes = await Promise.all(ticks);
    expect(runs).toBe(1);
    expect(outcomes.sort()).toEqual([1, undefined]);
  });
});
