import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { LockLostError, LockWaitCanceledError } from '../../src/errors/migration-lock.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey, lockKeyAsOids } from '../../src/lock/lock-key.js';
import { pollUntil, waitersFor } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  serverIsAtLeast,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * A database whose statement_timeout (300 ms) is far below the module's lock timeout: the wait for
 * the lock must be bounded by timeoutMs alone, while the protected work keeps the user's bound.
 */
const KEY = advisoryLockKey('migrations', 'Migrations');
const [CLASSID, OBJID] = lockKeyAsOids(KEY);
const STATEMENT_TIMEOUT = '300ms';

describe("the server's statement_timeout and a lock wait", () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let holder: pg.Client;
  let dataSource: DataSource;
  let locks: AdvisoryLockService;

  beforeAll(async () => {
    db = await createTestDatabase('server_timeouts');
    observer = await connectClient(db.url, 'observer');
    await observer.query(
      `ALTER DATABASE "${db.name}" SET statement_timeout = '${STATEMENT_TIMEOUT}'`,
    );
    dataSource = await openDataSource(db.url);
    locks = new AdvisoryLockService(dataSource, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await dataSource.destroy();
    await observer.end();
    await db.drop();
  });

  beforeEach(async () => {
    holder = await connectClient(db.url, 'holder-app');
    await holder.query('SET statement_timeout = 0');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
  });

  afterEach(() => holder.end());

  /** Resolves once a waiter has waited for the lock longer than the database's statement_timeout. */
  const waitedPastStatementTimeout = () =>
    pollUntil(async () => {
      const { rows } = await observer.query(
        `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1
            AND objid = $2 AND objsubid = 2 AND now() - waitstart > 3 * $3::interval
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [CLASSID, OBJID, STATEMENT_TIMEOUT],
      );
      return rows.length > 0 ? true : undefined;
    }, 'a waiter waiting past statement_timeout');

  it('withLock waits past it, then runs the work with the statement_timeout restored', async () => {
    const running = locks.withLock('migrations', 'Migrations', async (manager) => {
      const [row] = (await manager.query('SHOW statement_timeout')) as [
        { statement_timeout: string },
      ];
      return row.statement_timeout;
    });
    await waitedPastStatementTimeout();
    await holder.query('COMMIT');
    expect(await running).toBe(STATEMENT_TIMEOUT);
  });

  it('tryWithLockOrWait (how followers wait) waits past it too', async () => {
    const following = locks.tryWithLockOrWait('migrations', 'Migrations', async () => 'held');
    await waitedPastStatementTimeout();
    await holder.query('COMMIT');
    expect(await following).toEqual({ acquired: false });
  });

  it("a cancel the caller did not ask for is a typed LockWaitCanceledError (an operator's pg_cancel_backend)", async () => {
    const waiting = locks
      .withLock('migrations', 'Migrations', async () => 'ran')
      .catch((error: unknown) => error);
    const [pid] = await waitersFor(observer, KEY);
    await observer.query('SELECT pg_cancel_backend($1)', [pid]);
    const error = await waiting;
    expect(error).toBeInstanceOf(LockWaitCanceledError);
    expect((error as LockWaitCanceledError).code).toBe('LOCK_WAIT_CANCELED');
  });
});

/*
 * transaction_timeout (PostgreSQL 17+) counts from the transaction's start, and the lock's wait is
 * inside the lock's transaction: lifted for the wait as statement_timeout is, and restored once the
 * lock is held, when its timer starts again, so the work still gets the whole of the user's bound.
 */
const TRANSACTION_TIMEOUT = '1s';
const describeOn17 = serverIsAtLeast(17) ? describe : describe.skip;

describeOn17("the server's transaction_timeout and a lock wait", () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let holder: pg.Client;
  let dataSource: DataSource;
  let locks: AdvisoryLockService;

  beforeAll(async () => {
    db = await createTestDatabase('transaction_timeout');
    observer = await connectClient(db.url, 'observer');
    await observer.query(
      `ALTER DATABASE "${db.name}" SET transaction_timeout = '${TRANSACTION_TIMEOUT}'`,
    );
    dataSource = await openDataSource(db.url);
    locks = new AdvisoryLockService(dataSource, { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await dataSource.destroy();
    await observer.end();
    await db.drop();
  });

  beforeEach(async () => {
    holder = await connectClient(db.url, 'holder-app');
    await holder.query('SET transaction_timeout = 0');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
  });

  afterEach(() => holder.end());

  /** Resolves once a waiter's transaction has been open three times transaction_timeout. */
  const waitedPastTransactionTimeout = () =>
    pollUntil(async () => {
      const { rows } = await observer.query(
        `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1 AND l.objid = $2
            AND l.objsubid = 2 AND now() - a.xact_start > 3 * $3::interval
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [CLASSID, OBJID, TRANSACTION_TIMEOUT],
      );
      return rows.length > 0 ? true : undefined;
    }, 'a waiter whose transaction outlived transaction_timeout');

  it('withLock waits past it, then runs and commits the work under the restored timeout', async () => {
    const running = locks.withLock('migrations', 'Migrations', async (manager) => {
      const [row] = (await manager.query('SHOW transaction_timeout')) as [
        { transaction_timeout: string },
      ];
      return row.transaction_timeout;
    });
    await waitedPastTransactionTimeout();
    await holder.query('COMMIT');
    expect(await running).toBe(TRANSACTION_TIMEOUT);
  });

  it('tryWithLockOrWait (how followers wait) waits past it too', async () => {
    const following = locks.tryWithLockOrWait('migrations', 'Migrations', async () => 'held');
    await waitedPastTransactionTimeout();
    await holder.query('COMMIT');
    expect(await following).toEqual({ acquired: false });
  });

  it('still bounds the work: work longer than transaction_timeout after the wait loses the lock', async () => {
    const running = locks
      .withLock('migrations', 'Migrations', async (manager) => {
        await manager.query('SELECT pg_sleep(5)');
      })
      .catch((error: unknown) => error);
    await waitersFor(observer, KEY);
    await holder.query('COMMIT');
    const error = await running;
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toContain('transaction timeout');
  });
});
