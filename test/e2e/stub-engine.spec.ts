import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { launchFleet, type Fleet } from '../../reference/demo/fleet.js';
import {
  AdvisoryLockService,
  LockNotExclusiveError,
  MigrationLockModule,
  WithAdvisoryLock,
  type MigrationLockEvents,
} from '../../src/index.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * A server whose advisory-lock functions accept every call and take nothing, as CockroachDB's did
 * before 26.1 (its session-level ones still do) and YugabyteDB's with advisory locks off and their
 * error silenced: made here on real PostgreSQL by replacing every such function of one throwaway
 * database's pg_catalog with a stub. The module must refuse, clearly, before anything runs.
 */
const run = promisify(execFile);
const SIGNATURES = ['int4, int4', 'int8'];
const STUBS: ReadonlyArray<[name: string, returns: 'boolean' | 'void']> = [
  ['pg_try_advisory_xact_lock', 'boolean'],
  ['pg_try_advisory_xact_lock_shared', 'boolean'],
  ['pg_advisory_xact_lock', 'void'],
  ['pg_advisory_xact_lock_shared', 'void'],
  ['pg_try_advisory_lock', 'boolean'],
  ['pg_try_advisory_lock_shared', 'boolean'],
  ['pg_advisory_lock', 'void'],
  ['pg_advisory_lock_shared', 'void'],
  ['pg_advisory_unlock', 'boolean'],
  ['pg_advisory_unlock_shared', 'boolean'],
];

async function stubAdvisoryLocks(admin: pg.Client): Promise<void> {
  await admin.query('SET allow_system_table_mods = on');
  for (const [name, returns] of STUBS)
    for (const args of SIGNATURES) {
      // A single-SELECT body: an empty one would still run the built-in code.
      const body = returns === 'boolean' ? 'SELECT true' : 'SELECT NULL::void';
      await admin.query(
        `CREATE OR REPLACE FUNCTION pg_catalog.${name}(${args}) RETURNS ${returns} LANGUAGE sql AS '${body}'`,
      );
    }
  await admin.query('RESET allow_system_table_mods');
}

/** Calls every stubbed function in one transaction: none may leave an advisory lock behind. */
async function advisoryRowsAfterCallingEveryStub(client: pg.Client): Promise<number> {
  await client.query('BEGIN');
  try {
    for (const [name] of STUBS) {
      await client.query(`SELECT ${name}(1, 2)`);
      await client.query(`SELECT ${name}(12::int8)`);
    }
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM pg_catalog.pg_locks
        WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid()`,
    );
    return rows[0].n;
  } finally {
    await client.query('ROLLBACK');
  }
}

const ran: string[] = [];

@Injectable()
class Jobs {
  @WithAdvisoryLock('stub-job')
  async job() {
    ran.push('job');
    return 'ran';
  }
}

describe('a server whose advisory locks are stubs', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const fleets: Fleet[] = [];
  const dataSources: DataSource[] = [];

  const migrationsTableExists = async () =>
    (await admin.query(`SELECT to_regclass('migrations') AS t`)).rows[0].t !== null;

  async function dataSource(): Promise<DataSource> {
    const made = await new DataSource({ type: 'postgres', url: db.url }).initialize();
    dataSources.push(made);
    return made;
  }

  beforeEach(async () => {
    db = await createTestDatabase('stub_engine');
    admin = await connectClient(db.url, 'observer');
    await stubAdvisoryLocks(admin);
    expect(await advisoryRowsAfterCallingEveryStub(admin)).toBe(0);
  });

  afterEach(async () => {
    for (const started of fleets.splice(0))
      for (const replica of started.replicas) replica.kill('SIGKILL');
    await Promise.all(dataSources.splice(0).map((made) => made.destroy()));
    await admin.end();
    await db.drop();
  });

  it.each(['all', 'each', 'none'] as const)(
    'mode %s: 4 replicas all refuse with LOCK_NOT_EXCLUSIVE, naming the server, and apply nothing',
    async (transaction) => {
      const started = await launchFleet(4, { databaseUrl: db.url, transaction });
      fleets.push(started);
      const reports = await started.release();
      expect(reports.map((r) => [r.status, r.code])).toEqual(
        Array.from({ length: 4 }, () => ['failed', 'LOCK_NOT_EXCLUSIVE']),
      );
      expect(reports[0].error).toContain('PostgreSQL');
      expect(await migrationsTableExists()).toBe(false);
    },
  );

  it('the CLI refuses with exit 2 and the error code, and applies nothing', async () => {
    const result = await run(
      process.execPath,
      ['dist/esm/cli/main.js', 'run', '-d', 'test/fixtures/data-source.mjs', '--json'],
      { env: { ...process.env, DATABASE_URL: db.url } },
    ).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({
      status: 'failed',
      code: 'LOCK_NOT_EXCLUSIVE',
      error: expect.stringContaining('PostgreSQL'),
    });
    expect(await migrationsTableExists()).toBe(false);
  });

  it.each(['withLock', 'tryWithLock', 'withSessionLock'] as const)(
    '%s rejects with LockNotExclusiveError without running the work',
    async (method) => {
      const locks = new AdvisoryLockService(await dataSource());
      const work = jest.fn(async () => 'ran');
      const attempt = locks[method]('report', 'Jobs', work);
      await expect(attempt).rejects.toBeInstanceOf(LockNotExclusiveError);
      await expect(attempt).rejects.toMatchObject({
        code: 'LOCK_NOT_EXCLUSIVE',
        form: method === 'withSessionLock' ? 'session' : 'transaction',
      });
      expect(work).not.toHaveBeenCalled();
    },
  );

  it('a @WithAdvisoryLock job does not run, and the refusal is reported', async () => {
    const failed: unknown[] = [];
    const events: MigrationLockEvents = { jobFailed: ({ error }) => void failed.push(error) };
    const moduleRef = await Test.createTestingModule({
      imports: [
        MigrationLockModule.forRoot({
          dataSource: await dataSource(),
          runOnBootstrap: false,
          events,
        }),
      ],
      providers: [Jobs],
    }).compile();
    const app: INestApplication = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      await expect(app.get(Jobs).job()).rejects.toBeInstanceOf(LockNotExclusiveError);
      expect(ran).toEqual([]);
      expect(failed).toEqual([expect.any(LockNotExclusiveError)]);
    } finally {
      await app.close();
    }
  });
});
