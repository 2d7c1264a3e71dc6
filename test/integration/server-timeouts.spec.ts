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
 * A database whose statement_timeout or transaction_timeout (PostgreSQL 17+) is far below the
 * module's lock timeout: the wait for the lock must be bounded by timeoutMs alone, while the
 * protected work keeps the user's bound. transaction_timeout counts from the transaction's start,
 * and the wait is inside the lock's transaction: restored once the lock is held, its timer starts
 * again there, so the work still gets the whole of it.
 */
const KEY = advisoryLockKey('migrations', 'Migrations');
const [CLASSID, OBJID] = lockKeyAsOids(KEY);
/** A one-number advisory lock the observer holds, for work that must wait on it. */
const GATE = 4_242_017;

const SERVER_TIMEOUTS = [
  { setting: 'statement_timeout', value: '300ms', runs: true },
  { setting: 'transaction_timeout', value: '1s', runs: serverIsAtLeast(17) },
] as const;

for (const { setting, value, runs } of SERVER_TIMEOUTS) {
  (runs ? describe : describe.skip)(`the server's ${setting} and a lock wait`, () => {
    let db: TestDatabase;
    let observer: pg.Client;
    let holder: pg.Client;
    let dataSource: DataSource;
    let locks: AdvisoryLockService;

    beforeAll(async () => {
      db = await createTestDatabase(setting);
      observer = await connectClient(db.url, 'observer');
      await observer.query(`ALTER DATABASE "${db.name}" SET ${setting} = '${value}'`);
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
      await holder.query(`SET ${setting} = 0`);
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    });

    afterEach(() => holder.end());

    /** Resolves once a waiter's waiting statement (and so its transaction) ran 3 × the setting. */
    const waitedPastTheTimeout = () =>
      pollUntil(async () => {
        const { rows } = await observer.query(
          `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.locktype = 'advisory' AND NOT l.granted AND l.classid = $1 AND l.objid = $2
              AND l.objsubid = 2 AND now() - a.query_start > 3 * $3::interval
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [CLASSID, OBJID, value],
        );
        return rows.length > 0 ? true : undefined;
      }, `a waiter waiting past ${setting}`);

    it(`withLock waits past it, then runs the work with the ${setting} restored`, async () => {
      const running = locks.withLock('migrations', 'Migrations', async (manager) => {
        const [row] = (await manager.query(`SHOW ${setting}`)) as [Record<string, string>];
        return row[setting];
      });
      await waitedPastTheTimeout();
      await holder.query('COMMIT');
      expect(await running).toBe(value);
    });

    it('tryWithLockOrWait (how followers wait) waits past it too', async () => {
      const following = locks.tryWithLockOrWait('migrations', 'Migrations', async () => 'held');
      await waitedPastTheTimeout();
      await holder.query('COMMIT');
      expect(await following).toEqual({ acquired: false });
    });

    if (setting === 'statement_timeout') {
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
    } else {
      it('still bounds the work: work longer than transaction_timeout after the wait loses the lock', async () => {
        // The work waits on a gate the observer holds, and would wait for ever: only the
        // restored transaction_timeout can end it.
        await observer.query('SELECT pg_advisory_lock($1)', [GATE]);
        const running = locks
          .withLock('migrations', 'Migrations', async (manager) => {
            await manager.query('SELECT pg_advisory_lock($1)', [GATE]);
          })
          .catch((error: unknown) => error);
        await waitersFor(observer, KEY);
        await holder.query('COMMIT');
        const error = await running;
        await observer.query('SELECT pg_advisory_unlock($1)', [GATE]);
        expect(error).toBeInstanceOf(LockLostError);
        expect((error as LockLostError).phase).toBe('holding');
        expect((error as Error).message).toContain('transaction timeout');
      });
    }
  });
}
