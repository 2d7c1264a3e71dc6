import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { MAX_TIMEOUT_MS } from '../../src/errors/option-checks.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { pollUntil, sessionLockPollers, waitersFor } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * The longest timeout the options take is 2^31 − 1 ms, a Node.js timer's own limit. A timer the
 * module arms past it (the wait's bound plus the silent-server grace) is clamped by Node to 1 ms:
 * a wait on a held lock then failed at once with "No answer from PostgreSQL". Each of these waits
 * is made to last while the holder has held the lock for over a second, as the server's clock says.
 */
const ID = 'timers';
const TYPE = 'Bounds';
const KEY = advisoryLockKey(ID, TYPE);

describe('timeouts at the edge of what a timer can wait', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let dataSource: DataSource;
  let locks: AdvisoryLockService;

  beforeAll(async () => {
    db = await createTestDatabase('timer_bounds');
    observer = await connectClient(db.url, 'observer');
    dataSource = await openDataSource(db.url);
    locks = new AdvisoryLockService(dataSource);
  });

  afterAll(async () => {
    await dataSource.destroy();
    await observer.end();
    await db.drop();
  });

  /** Until the holder has held the lock for `ms` by the server's clock, or `settled` says stop. */
  async function heldFor(holder: pg.Client, ms: number, settled: () => boolean): Promise<void> {
    const [{ pid }] = (await holder.query('SELECT pg_backend_pid() AS pid')).rows as [
      { pid: number },
    ];
    await pollUntil(async () => {
      if (settled()) return true;
      const { rows } = await observer.query(
        `SELECT clock_timestamp() - xact_start > $2 * interval '1 ms' AS long
           FROM pg_stat_activity WHERE pid = $1`,
        [pid, ms],
      );
      return rows[0]?.long ? true : undefined;
    }, `the holder to hold for ${ms} ms`);
  }

  const forms = {
    transaction: {
      attempt: (timeoutMs: number) => locks.withLock(ID, TYPE, async () => 'done', { timeoutMs }),
      waiting: async () => (await waitersFor(observer, KEY, 1)).length > 0,
    },
    session: {
      attempt: (timeoutMs: number) =>
        locks.withSessionLock(ID, TYPE, async () => 'done', { timeoutMs }),
      waiting: () =>
        pollUntil(
          async () => ((await sessionLockPollers(observer)).length > 0 ? true : undefined),
          'a session-lock poller',
        ),
    },
  };

  it.each([
    ['transaction', MAX_TIMEOUT_MS],
    ['transaction', MAX_TIMEOUT_MS - 4_999],
    ['transaction', 0],
    ['session', MAX_TIMEOUT_MS],
    ['session', MAX_TIMEOUT_MS - 4_999],
    ['session', 0],
  ] as const)(
    '%s form, timeoutMs %d: waits for a lock held over a second, then gets it',
    async (form, timeoutMs) => {
      const holder = await connectClient(db.url, 'holder-app');
      let settled = false;
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
        const attempt = forms[form].attempt(timeoutMs).finally(() => (settled = true));
        await Promise.race([forms[form].waiting(), attempt.catch(() => undefined)]);
        await heldFor(holder, 1_500, () => settled);
        expect(settled).toBe(false);
        await holder.query('COMMIT');
        expect(await attempt).toBe('done');
      } finally {
        // Ends the lock whatever happened: the next case takes the same key.
        await holder.end();
      }
    },
  );
});
