import { Injectable, type INestApplication } from '@nestjs/common';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { Test } from '@nestjs/testing';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import {
  AdvisoryLockContext,
  InvalidLockArgumentError,
  InvalidOptionsError,
  JobNotRegisteredError,
  MigrationLockModule,
  NoLockHeldError,
  WithAdvisoryLock,
  type MigrationLockEvents,
} from '../../src/index.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { holderOf, waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * @WithAdvisoryLock in a Nest app on a real PostgreSQL: another "replica" is a raw session that
 * holds the job's lock, observed in pg_locks.
 */
const SKIP_KEY = advisoryLockKey('skip-job', 'Jobs');
const WAIT_KEY = advisoryLockKey('wait-job', 'Jobs');

const calls: string[] = [];
let failNext = false;

@Injectable()
class Jobs {
  @WithAdvisoryLock('skip-job')
  async skipJob(label: string) {
    calls.push(label);
    return `ran ${label}`;
  }

  @WithAdvisoryLock('wait-job', { onHeld: 'wait', timeoutMs: 20_000 })
  async waitJob() {
    calls.push('wait');
    return 'waited';
  }

  /** Writes through the lock's manager; throws after writing when told to. */
  @WithAdvisoryLock('daily-report', { oncePer: 'day' })
  async dailyReport() {
    await AdvisoryLockContext.manager().query(`INSERT INTO job_writes (job) VALUES ('daily')`);
    if (failNext) {
      failNext = false;
      throw new Error('report failed');
    }
    return 'reported';
  }

  // Both orders with @nestjs/schedule's @Cron: its discovery must still find the method.
  @Cron('0 0 1 1 *', { name: 'cron-above' })
  @WithAdvisoryLock('cron-above')
  async cronAbove() {
    return 'above';
  }

  @WithAdvisoryLock('cron-below')
  @Cron('0 0 1 1 *', { name: 'cron-below' })
  async cronBelow() {
    return 'below';
  }
}

describe('@WithAdvisoryLock', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let app: INestApplication;
  let jobs: Jobs;
  let other: pg.Client;
  let observer: pg.Client;
  const events: Array<[string, unknown]> = [];
  const listener: MigrationLockEvents = {
    jobStarted: (e) => events.push(['started', e]),
    jobSkipped: (e) => events.push(['skipped', e]),
    jobFinished: (e) => events.push(['finished', e]),
    jobFailed: (e) => events.push(['failed', e.error.message]),
  };

  beforeAll(async () => {
    db = await createTestDatabase('jobs');
    dataSource = new DataSource({ type: 'postgres', url: db.url, migrations: [] });
    const moduleRef = await Test.createTestingModule({
      imports: [
        ScheduleModule.forRoot(),
        MigrationLockModule.forRoot({ dataSource, events: listener }),
      ],
      providers: [Jobs],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    jobs = app.get(Jobs);
    await dataSource.query('CREATE TABLE job_writes (job text NOT NULL)');
    other = await connectClient(db.url, 'other-replica');
    observer = await connectClient(db.url, 'observer');
  });

  afterAll(async () => {
    await other?.end();
    await observer?.end();
    await app?.close();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await db?.drop();
  });

  beforeEach(() => {
    calls.length = 0;
    events.length = 0;
  });

  it('skips at once (undefined, no error) while another session holds the lock, and runs when it is free', async () => {
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1, $2)', [...SKIP_KEY]);
    expect(await holderOf(observer, SKIP_KEY)).toBe(
      (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid,
    );
    await expect(jobs.skipJob('while held')).resolves.toBeUndefined();
    expect(calls).toEqual([]);
    expect(events).toEqual([
      ['skipped', { job: expect.stringContaining('skip-job'), reason: 'held' }],
    ]);
    await other.query('COMMIT');

    await expect(jobs.skipJob('free')).resolves.toBe('ran free');
    expect(calls).toEqual(['free']);
    expect(events.map(([name]) => name)).toEqual(['skipped', 'started', 'finished']);
  });

  it("onHeld 'wait' waits in pg_locks for the holder, then runs", async () => {
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1, $2)', [...WAIT_KEY]);
    const running = jobs.waitJob();
    await waitersFor(observer, WAIT_KEY, 1);
    expect(calls).toEqual([]);
    await other.query('COMMIT');
    await expect(running).resolves.toBe('waited');
    expect(calls).toEqual(['wait']);
  });

  it('oncePer: a run that throws records nothing (nor what it wrote), the next runs and records, a later one in the period skips', async () => {
    failNext = true;
    await expect(jobs.dailyReport()).rejects.toThrow('report failed');
    expect((await dataSource.query('SELECT count(*)::int AS n FROM job_writes'))[0].n).toBe(0);
    expect(
      (await dataSource.query('SELECT count(*)::int AS n FROM migration_lock_job_runs'))[0].n,
    ).toBe(0);

    await expect(jobs.dailyReport()).resolves.toBe('reported');
    await expect(jobs.dailyReport()).resolves.toBeUndefined();
    expect((await dataSource.query('SELECT count(*)::int AS n FROM job_writes'))[0].n).toBe(1);
    const runs = await dataSource.query(
      `SELECT job_id, period_ms::int AS period_ms, period_start = date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS this_day FROM migration_lock_job_runs`,
    );
    expect(runs).toEqual([{ job_id: 'daily-report', period_ms: 86_400_000, this_day: true }]);
    expect(
      events.map(([name, e]) => (name === 'skipped' ? (e as { reason: string }).reason : name)),
    ).toEqual(['started', 'failed', 'started', 'finished', 'ranThisPeriod']);
  });

  it('composes with @nestjs/schedule in both decorator orders', async () => {
    const registry = app.get(SchedulerRegistry);
    expect([...registry.getCronJobs().keys()].sort()).toEqual(['cron-above', 'cron-below']);
    await expect(jobs.cronAbove()).resolves.toBe('above');
    await expect(jobs.cronBelow()).resolves.toBe('below');
  });

  it('refuses clearly outside an app, and outside a lock', async () => {
    await expect(new Jobs().skipJob('orphan')).rejects.toBeInstanceOf(JobNotRegisteredError);
    expect(() => AdvisoryLockContext.manager()).toThrow(NoLockHeldError);
  });

  it('checks its arguments when the class is defined', () => {
    const define = (id: string, options: object) => {
      class Bad {
        @WithAdvisoryLock(id, options)
        async job() {}
      }
      return Bad;
    };
    expect(() => define('', {})).toThrow(InvalidLockArgumentError);
    expect(() => define('x', { onHeld: 'queue' })).toThrow(InvalidOptionsError);
    expect(() => define('x', { oncePer: 'week' })).toThrow(InvalidOptionsError);
    expect(() => define('x', { oncePer: 0 })).toThrow(InvalidOptionsError);
    expect(() => define('x', { timeoutMs: 5 })).toThrow(/only onHeld: 'wait' waits/);
    expect(() => define('x', { onHeld: 'wait', timeoutMs: 5, oncePer: 'hour' })).not.toThrow();
  });
});

@Injectable()
class TwoDatabaseJobs {
  @WithAdvisoryLock('where-am-i')
  async onDefault(): Promise<string> {
    const [row] = await AdvisoryLockContext.manager().query('SELECT current_database() AS db');
    return row.db;
  }

  @WithAdvisoryLock('where-am-i', { dataSourceName: 'fleet' })
  async onFleet(): Promise<string> {
    const [row] = await AdvisoryLockContext.manager().query('SELECT current_database() AS db');
    return row.db;
  }
}

describe('@WithAdvisoryLock with two DataSources', () => {
  const dbs: TestDatabase[] = [];
  let app: INestApplication;

  afterAll(async () => {
    await app?.close();
    await Promise.all(dbs.map((db) => db.drop()));
  });

  it('runs each job on the registration its dataSourceName names', async () => {
    dbs.push(await createTestDatabase('jobs-main'), await createTestDatabase('jobs-fleet'));
    const [main, fleet] = dbs.map(
      (db) => new DataSource({ type: 'postgres', url: db.url, migrations: [] }),
    );
    const moduleRef = await Test.createTestingModule({
      imports: [
        MigrationLockModule.forRoot({ dataSource: main }),
        MigrationLockModule.forRoot({ dataSource: fleet, dataSourceName: 'fleet' }),
      ],
      providers: [TwoDatabaseJobs],
    }).compile();
    app = moduleRef.createNestApplication();
    await app.init();
    const jobs = app.get(TwoDatabaseJobs);
    await expect(jobs.onDefault()).resolves.toBe(dbs[0].name);
    await expect(jobs.onFleet()).resolves.toBe(dbs[1].name);
  });
});
