import type pg from 'pg';
import type { DataSource } from 'typeorm';
import {
  LockAbortedError,
  LockLostError,
  LockTimeoutError,
} from '../../src/errors/migration-lock.errors.js';
import {
  announceAndReleaseSql,
  announceReleaseSql,
  releaseChannel,
  unlockAndNotifySql,
} from '../../src/lock/session-lock.sql.js';
import { isOutsideTransaction, type PgClient } from '../../src/connection/lock-connection.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import {
  CREATE_COUNTER_SQL,
  incrementCounter,
  runCounterWorkload,
} from '../support/counter-workload.js';
import { deferred } from '../support/deferred.js';
import { advisoryLockRows, holderOf, pollUntil, sessionLockPollers } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

const ID = 'jobs';
const TYPE = 'Session';
const KEY = advisoryLockKey(ID, TYPE);

describe('withSessionLock (session-level lock, step-by-step work) on a real PostgreSQL', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];

  async function locks(options: Parameters<typeof openDataSource>[1] = {}) {
    const dataSource = await openDataSource(db.url, {
      applicationName: 'session-test',
      ...options,
    });
    dataSources.push(dataSource);
    return new AdvisoryLockService(dataSource, { applicationName: 'session-test' });
  }

  /** A raw session holding the session-level lock, as another replica would. */
  async function rawHolder(name = 'other-replica') {
    const client = await connectClient(db.url, name);
    await client.query('SELECT pg_advisory_lock($1::int4, $2::int4)', [...KEY]);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return { client, pid: rows[0].pid };
  }

  /** Waits until a session-lock waiter has tried the lock at least once and sits idle between tries. */
  function waiterPolling(): Promise<number> {
    return pollUntil(async () => {
      const pollers = await sessionLockPollers(observer, { applicationName: 'session-test' });
      return pollers.find((poller) => poller.idle)?.pid;
    }, 'a session-lock waiter');
  }

  beforeAll(async () => {
    db = await createTestDatabase('session_lock');
    observer = await connectClient(db.url, 'observer');
    await observer.query(CREATE_COUNTER_SQL);
    await observer.query('CREATE TABLE items (id int PRIMARY KEY, kind text)');
  });

  afterAll(async () => {
    await Promise.all(dataSources.map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  describe('mutual exclusion', () => {
    const WORKERS = 6;
    const ROUNDS = 4;

    async function runWorkers(locked: boolean): Promise<number> {
      const workers = await Promise.all(Array.from({ length: WORKERS }, () => locks()));
      const unlocked = dataSources.slice(-WORKERS);
      return runCounterWorkload(observer, WORKERS, ROUNDS, async (worker) => {
        if (locked) return workers[worker].withSessionLock(ID, TYPE, incrementCounter);
        const queryRunner = unlocked[worker].createQueryRunner();
        await incrementCounter(queryRunner).finally(() => queryRunner.release());
      });
    }

    it('serializes step-by-step work across DataSources', async () => {
      expect(await runWorkers(true)).toBe(WORKERS * ROUNDS);
    });

    it('control: without the lock the same work loses updates', async () => {
      expect(await runWorkers(false)).toBeLessThan(WORKERS * ROUNDS);
    });
  });

  it('waits without a blocking lock statement and is woken by the release NOTIFY', async () => {
    const holder = await rawHolder();
    const service = await locks();
    const ran = service.withSessionLock(ID, TYPE, async (_qr, lock) => lock.backendPid);
    const waiterPid = await waiterPolling();
    // Nothing waits in pg_locks: a waiting lock statement would hold a snapshot.
    expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
    const { rows } = await observer.query(
      `SELECT backend_xmin FROM pg_stat_activity WHERE pid = $1`,
      [waiterPid],
    );
    expect(rows[0].backend_xmin).toBeNull();
    await holder.client.query(
      `SELECT pg_advisory_unlock(${KEY[0]}, ${KEY[1]}); NOTIFY ${releaseChannel(KEY)}`,
    );
    expect(await ran).toBe(waiterPid);
    await holder.client.end();
  });

  it('takes over from a holder that died without notifying (slow poll fallback)', async () => {
    const holder = await rawHolder();
    const service = await locks();
    const ran = service.withSessionLock(ID, TYPE, async () => 'took over');
    await waiterPolling();
    await observer.query('SELECT pg_terminate_backend($1)', [holder.pid]);
    expect(await ran).toBe('took over');
    await holder.client.end().catch(() => undefined);
  });

  it('excludes the transaction-level form of the same key, both ways', async () => {
    const service = await locks();
    const release = deferred();
    const sessionHolder = service.withSessionLock(ID, TYPE, () => release.promise);
    await holderOf(observer, KEY);
    expect(await (await locks()).tryWithLock(ID, TYPE, async () => 'xact')).toEqual({
      acquired: false,
    });
    release.resolve();
    await sessionHolder;

    const xactRelease = deferred();
    const xactHolder = service.withLock(ID, TYPE, () => xactRelease.promise);
    await holderOf(observer, KEY);
    const waiting = (await locks()).withSessionLock(ID, TYPE, async () => 'after xact');
    await waiterPolling();
    xactRelease.resolve();
    await xactHolder;
    expect(await waiting).toBe('after xact');
  });

  it('times out naming the holder, and aborts a wait at once', async () => {
    const holder = await rawHolder('stuck-replica');
    const service = await locks();
    const timeout = (await service
      .withSessionLock(ID, TYPE, async () => 1, { timeoutMs: 100 })
      .catch((e: unknown) => e)) as LockTimeoutError;
    expect(timeout).toBeInstanceOf(LockTimeoutError);
    expect(timeout.holder).toMatchObject({ pid: holder.pid, applicationName: 'stuck-replica' });

    const controller = new AbortController();
    const aborted = service.withSessionLock(ID, TYPE, async () => 1, {
      signal: controller.signal,
      timeoutMs: 0,
    });
    await waiterPolling();
    controller.abort();
    expect(await aborted.catch((e: unknown) => e)).toBeInstanceOf(LockAbortedError);
    // The waiter's connection stops polling: it is reset and pooled, or closed.
    await pollUntil(
      async () => ((await waiterCount()) === 0 ? true : undefined),
      'the waiter to stop polling',
    );
    await holder.client.end();
  });

  it('fails with LockLostError when the holding connection is terminated mid-work, and frees the lock', async () => {
    const service = await locks();
    const holding = deferred<number>();
    const proceed = deferred();
    const attempt = service.withSessionLock(ID, TYPE, async (queryRunner, lock) => {
      holding.resolve(lock.backendPid);
      await proceed.promise;
      await queryRunner.query(`INSERT INTO items VALUES (1, 'after loss')`);
    });
    await observer.query('SELECT pg_terminate_backend($1)', [await holding.promise]);
    proceed.resolve();
    expect(await attempt.catch((e: unknown) => e)).toBeInstanceOf(LockLostError);
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    expect((await observer.query('SELECT * FROM items WHERE id = 1')).rowCount).toBe(0);
  });

  it('runs CREATE INDEX CONCURRENTLY while other replicas wait for the lock (no hang)', async () => {
    const holderService = await locks();
    const release = deferred();
    const started = deferred();
    const holder = holderService.withSessionLock(ID, TYPE, async (queryRunner) => {
      started.resolve();
      await release.promise;
      await queryRunner.query('CREATE INDEX CONCURRENTLY items_kind_idx ON items (kind)');
      return 'indexed';
    });
    await started.promise;
    const waiters = await Promise.all([locks(), locks(), locks()]);
    const waiting = waiters.map((w) => w.withSessionLock(ID, TYPE, async () => 'followed'));
    await pollUntil(async () => ((await waiterCount()) >= 3 ? true : undefined), '3 waiters');
    release.resolve();
    expect(await holder).toBe('indexed');
    expect(await Promise.all(waiting)).toEqual(['followed', 'followed', 'followed']);
    const { rows } = await observer.query(
      `SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_kind_idx'::regclass`,
    );
    expect(rows).toEqual([{ indisvalid: true }]);
  });

  it('keeps the lock through idle_session_timeout and idle_in_transaction_session_timeout set low', async () => {
    await observer.query(`ALTER DATABASE "${db.name}" SET idle_session_timeout = '200ms'`);
    await observer.query(
      `ALTER DATABASE "${db.name}" SET idle_in_transaction_session_timeout = '200ms'`,
    );
    try {
      const service = await locks({ poolSize: 1 });
      const result = await service.withSessionLock(ID, TYPE, async (queryRunner, lock) => {
        await queryRunner.startTransaction();
        await queryRunner.query(`INSERT INTO items VALUES (2, 'slow')`);
        // Stay idle in the transaction until the server has seen it idle well past both timeouts.
        await pollUntil(async () => {
          const { rows } = await observer.query(
            `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'idle in transaction' AND state_change < clock_timestamp() - interval '600 ms'`,
            [lock.backendPid],
          );
          return rows.length > 0 ? true : undefined;
        }, 'the holder to idle past the timeouts');
        await queryRunner.commitTransaction();
        return 'completed';
      });
      expect(result).toBe('completed');
      expect((await observer.query('SELECT * FROM items WHERE id = 2')).rowCount).toBe(1);
    } finally {
      await observer.query(`ALTER DATABASE "${db.name}" RESET idle_session_timeout`);
      await observer.query(`ALTER DATABASE "${db.name}" RESET idle_in_transaction_session_timeout`);
    }
  });

  async function waiterCount(): Promise<number> {
    return (await sessionLockPollers(observer, { applicationName: 'session-test' })).length;
  }

  it('gives its connection back to the pool reset: no LISTEN, no session settings, no lock', async () => {
    await observer.query(`ALTER DATABASE "${db.name}" SET idle_session_timeout = '1h'`);
    try {
      const dataSource = await openDataSource(db.url, { poolSize: 1, applicationName: 'pool-app' });
      dataSources.push(dataSource);
      const service = new AdvisoryLockService(dataSource, { applicationName: 'session-test' });
      const pid = await service.withSessionLock(ID, TYPE, async (_qr, lock) => lock.backendPid);
      const [after] = (await dataSource.query(
        `SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app,
                current_setting('idle_session_timeout') AS idle,
                (SELECT count(*)::int FROM pg_listening_channels()) AS listening,
                (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks`,
      )) as Array<{ pid: number; app: string; idle: string; listening: number; locks: number }>;
      expect(after).toEqual({ pid, app: 'pool-app', idle: '1h', listening: 0, locks: 0 });
    } finally {
      await observer.query(`ALTER DATABASE "${db.name}" RESET idle_session_timeout`);
    }
  });

  it('never touches its connection again once it is back in the pool (the next user keeps its session)', async () => {
    const dataSource = await openDataSource(db.url, { poolSize: 1, applicationName: 'pool-app' });
    dataSources.push(dataSource);
    const service = new AdvisoryLockService(dataSource, { applicationName: 'session-test' });
    // The next user waits for the pool's only connection while the lock is held, gets it the
    // moment the lock is done with it, and changes its session.
    let nextUser: Promise<string> | undefined;
    await service.withSessionLock(ID, TYPE, async () => {
      nextUser = (async () => {
        const queryRunner = dataSource.createQueryRunner();
        try {
          await queryRunner.query(`SET application_name = 'next-user'`);
          // Round trips after the hand-over, so a stray statement from the lock would land first.
          await queryRunner.query('SELECT 1');
          const [row] = (await queryRunner.query(
            `SELECT current_setting('application_name') AS app`,
          )) as Array<{ app: string }>;
          return row.app;
        } finally {
          await queryRunner.release();
        }
      })();
    });
    expect(await nextUser).toBe('next-user');
  });

  it('never commits a transaction the work left open: the release then takes two round trips', async () => {
    // Released in one round trip, the announcement's own BEGIN … COMMIT would commit it.
    const service = await locks();
    await service.withSessionLock(ID, TYPE, async (queryRunner) => {
      await queryRunner.query('BEGIN');
      await queryRunner.query(`INSERT INTO items VALUES (41, 'left open')`);
    });
    expect((await observer.query('SELECT id FROM items WHERE id = 41')).rows).toEqual([]);
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
  });

  it('knows a connection is outside a transaction only when pg says so', async () => {
    const client = await connectClient(db.url, 'status');
    const asLockClient = client as unknown as PgClient;
    await client.query('SELECT 1');
    expect(isOutsideTransaction(asLockClient)).toBe(true);
    await client.query('BEGIN');
    expect(isOutsideTransaction(asLockClient)).toBe(false);
    await client.query('SELECT 1/0').catch(() => undefined);
    expect(isOutsideTransaction(asLockClient)).toBe(false);
    await client.query('ROLLBACK');
    expect(isOutsideTransaction(asLockClient)).toBe(true);
    // A pg without getTransactionStatus (before its 2025 releases): unknown, so not outside.
    const older = Object.assign(Object.create(asLockClient) as PgClient, {
      getTransactionStatus: undefined,
    });
    expect(isOutsideTransaction(older)).toBe(false);
    await client.end();
  });

  describe('withSessionLockOrWait', () => {
    it('runs fn holding the lock when it is free', async () => {
      const service = await locks();
      const result = await service.withSessionLockOrWait(ID, TYPE, async (_qr, lock) => {
        expect((await advisoryLockRows(observer, KEY)).map((r) => r.pid)).toEqual([
          lock.backendPid,
        ]);
        return 'ran';
      });
      expect(result).toEqual({ acquired: true, value: 'ran' });
      expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    });

    it('a holder announces its release on its own, before the unlock, then wakes the waiters', async () => {
      // Two notices per release: the announcement, committed while the lock is still held (a
      // follower whose poll gets the lock right after the unlock has it pending, and follows), and
      // the wake-up after the unlock for waiters in line. One notice, sent with the unlock, reached
      // a loaded machine's followers only after their poll had taken the lock for a dead holder's.
      const listener = await connectClient(db.url, 'listener');
      const notices: string[] = [];
      listener.on('notification', (message) =>
        notices.push(`${message.channel} ${message.payload}`),
      );
      await listener.query(`LISTEN ${releaseChannel(KEY)}`);
      const service = await locks();
      await service.withSessionLock(ID, TYPE, async () => undefined);
      await pollUntil(async () => {
        await listener.query('SELECT 1');
        return notices.length >= 2 ? true : undefined;
      }, 'the release notices');
      expect(notices).toEqual([`${releaseChannel(KEY)} announced`, `${releaseChannel(KEY)} free`]);
      await listener.end();
    });

    it.each([
      ['in one round trip (outside a transaction)', [announceAndReleaseSql(KEY)]],
      [
        'in two (the announcement alone, then the unlock)',
        [announceReleaseSql(KEY), unlockAndNotifySql(KEY)],
      ],
    ])(
      'ends the wait at the release NOTIFY of the holder without taking the lock: release %s',
      async (_form, release) => {
        const holder = await rawHolder();
        const service = await locks();
        let ran = false;
        let settled = false;
        const attempt = service
          .withSessionLockOrWait(ID, TYPE, async () => void (ran = true))
          .finally(() => (settled = true));
        await waiterPolling();
        expect(settled).toBe(false);
        // As the library's holder releases (SessionLock.release).
        for (const statement of release) await holder.client.query(statement);
        expect(await attempt).toEqual({ acquired: false });
        expect(ran).toBe(false);
        expect(await advisoryLockRows(observer, KEY)).toEqual([]);
        await holder.client.end();
      },
    );
  });
});
