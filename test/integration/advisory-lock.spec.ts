import { execFileSync } from 'node:child_process';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import {
  InvalidLockArgumentError,
  InvalidOptionsError,
  LockAbortedError,
  LockLostError,
  LockTimeoutError,
  TransactionRolledBackError,
} from '../../src/errors/migration-lock.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import type { HeldLock } from '../../src/lock/advisory-lock.interfaces.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { lockIdentity } from '../../src/lock/lock-key.js';
import { exclusiveProven } from '../../src/lock/lock-failures.js';
import { pendingMigrationNames } from '../../src/migration-runner/pending-migrations.js';
import {
  CREATE_COUNTER_SQL,
  incrementCounter,
  runCounterWorkload,
} from '../support/counter-workload.js';
import { deferred } from '../support/deferred.js';
import { advisoryLockRows, holderOf, waiterOnGate, waitersFor } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

const ID = 'jobs';
const TYPE = 'Counter';
const KEY = advisoryLockKey(ID, TYPE);

describe('AdvisoryLockService on a real PostgreSQL', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];

  async function service(options: Parameters<typeof openDataSource>[1] = {}) {
    const dataSource = await openDataSource(db.url, options);
    dataSources.push(dataSource);
    return { dataSource, locks: new AdvisoryLockService(dataSource) };
  }

  /** Another replica holding the lock in its open transaction (as the Go implementation does). */
  async function xactHolder(): Promise<pg.Client> {
    const client = await connectClient(db.url, 'holder-app');
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    return client;
  }

  beforeAll(async () => {
    db = await createTestDatabase('advisory_lock');
    observer = await connectClient(db.url, 'observer');
    await observer.query(CREATE_COUNTER_SQL);
    await observer.query('CREATE TABLE notes (body text NOT NULL)');
  });

  afterAll(async () => {
    await Promise.all(dataSources.map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  it('proves the lock excludes on the first lock of each form per DataSource, then sends no proof', async () => {
    const { dataSource, locks } = await service();
    const needsExclusiveProof = (ds: DataSource, form: 'transaction' | 'session') =>
      !exclusiveProven(ds, form);
    expect(needsExclusiveProof(dataSource, 'transaction')).toBe(true);
    expect(needsExclusiveProof(dataSource, 'session')).toBe(true);
    await locks.withLock(ID, TYPE, async () => undefined);
    expect(needsExclusiveProof(dataSource, 'transaction')).toBe(false);
    expect(needsExclusiveProof(dataSource, 'session')).toBe(true);
    await locks.withSessionLock(ID, TYPE, async () => undefined);
    expect(needsExclusiveProof(dataSource, 'session')).toBe(false);
  });

  describe('mutual exclusion', () => {
    const WORKERS = 8;
    const ROUNDS = 5;

    async function runWorkers(locked: boolean): Promise<number> {
      const workers = await Promise.all(Array.from({ length: WORKERS }, () => service()));
      return runCounterWorkload(observer, WORKERS, ROUNDS, (worker) => {
        const { dataSource, locks } = workers[worker];
        return locked
          ? locks.withLock(ID, TYPE, incrementCounter)
          : dataSource.transaction(incrementCounter);
      });
    }

    it('serializes read-modify-write from separate DataSources: no lost update', async () => {
      expect(await runWorkers(true)).toBe(WORKERS * ROUNDS);
    });

    it('control: the same workload without the lock loses updates (the test has teeth)', async () => {
      expect(await runWorkers(false)).toBeLessThan(WORKERS * ROUNDS);
    });
  });

  it('makes a second caller wait (granted = false in pg_locks) until the holder commits', async () => {
    const { locks: holderLocks } = await service();
    const { locks: waiterLocks } = await service();
    const release = deferred();
    const order: string[] = [];
    const holder = holderLocks.withLock(ID, TYPE, async (_manager, lock) => {
      order.push('holder in');
      await release.promise;
      order.push('holder out');
      return lock.backendPid;
    });
    const holderPid = await holderOf(observer, KEY);
    const waiter = waiterLocks.withLock(ID, TYPE, async (_manager, lock) => {
      order.push('waiter in');
      return lock;
    });
    const [waiterPid] = await waitersFor(observer, KEY);
    expect(waiterPid).not.toBe(holderPid);
    const { rows } = await observer.query<{ blockers: number[] }>(
      'SELECT pg_blocking_pids($1) AS blockers',
      [waiterPid],
    );
    expect(rows[0].blockers).toEqual([holderPid]);

    release.resolve();
    expect(await holder).toBe(holderPid);
    const waiterLock = await waiter;
    expect(waiterLock.backendPid).toBe(waiterPid);
    expect(waiterLock.waitedMs).toBeGreaterThanOrEqual(0);
    expect(order).toEqual(['holder in', 'holder out', 'waiter in']);
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
  });

  it('times out with LockTimeoutError naming the holder, leaving no waiter behind', async () => {
    const holder = await xactHolder();
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const { locks } = await service();
    try {
      const attempt = locks.withLock(ID, TYPE, async () => 'never', { timeoutMs: 150 });
      await expect(attempt).rejects.toBeInstanceOf(LockTimeoutError);
      const error = (await attempt.catch((e: unknown) => e)) as LockTimeoutError;
      expect(error.code).toBe('LOCK_TIMEOUT');
      expect(error.holder).toMatchObject({ pid: rows[0].pid, applicationName: 'holder-app' });
      expect(error.message).toContain(`pid ${rows[0].pid}`);
      expect(error.message).toContain('holder-app');
      expect(error.message).toMatch(/timeoutMs/);
      expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
    } finally {
      await holder.end();
    }
  });

  it.each([
    ['withLock', 'while it waits'],
    ['tryWithLockOrWait', 'while it waits'],
    // The call has checked the signal and is getting a connection or trying the lock: the wait's
    // listener is not attached yet. Missing this abort would wait forever (timeoutMs 0).
    ['withLock', 'before the wait starts'],
    ['tryWithLockOrWait', 'before the wait starts'],
  ] as const)(
    '%s: an abort %s ends the wait at the server, LockAbortedError, nothing left waiting',
    async (method, when) => {
      const holder = await xactHolder();
      // Pool of one: the cancel must not need a second pooled connection.
      const { locks } = await service({ poolSize: 1 });
      try {
        const controller = new AbortController();
        const attempt = locks[method](ID, TYPE, async () => 'never', {
          signal: controller.signal,
          timeoutMs: 0,
        });
        if (when === 'while it waits') await waitersFor(observer, KEY);
        controller.abort();
        const error = (await attempt.catch((e: unknown) => e)) as LockAbortedError;
        expect(error).toBeInstanceOf(LockAbortedError);
        expect(error.phase).toBe('waiting');
        expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
      } finally {
        await holder.end();
      }
      // The pool's one connection came back usable: no transaction or lock left on it.
      expect(await locks.withLock(ID, TYPE, async () => 'after', { timeoutMs: 1000 })).toBe(
        'after',
      );
    },
  );

  /**
   * Terminates a backend while this process's event loop is blocked: when it resumes, the pool has
   * not yet read the connection's close, and hands the dead connection out as if it were idle and
   * fine (as after idle_session_timeout, or a proxy dropping idle connections).
   */
  function terminateUnnoticed(...pids: number[]): void {
    const script = `import pg from 'pg';
      const client = new pg.Client(process.env.URL);
      await client.connect();
      for (const pid of process.env.PIDS.split(','))
        await client.query('SELECT pg_terminate_backend($1::int4, 10000)', [pid]);
      await client.end();`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, URL: db.url, PIDS: pids.join(',') },
    });
  }

  /** Fills the pool with `size` idle connections at once; resolves to their backend pids. */
  async function idlePool(dataSource: DataSource, size: number): Promise<number[]> {
    const runners = Array.from({ length: size }, () => dataSource.createQueryRunner());
    await Promise.all(runners.map((runner) => runner.connect()));
    const pids = await Promise.all(
      runners.map(async (runner) => {
        const [row] = (await runner.query('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
        return row.pid;
      }),
    );
    await Promise.all(runners.map((runner) => runner.release()));
    return pids;
  }

  it.each(['withLock', 'withSessionLock', 'tryWithLockOrWait'] as const)(
    '%s: every pooled connection the server closed while idle is replaced, and the lock taken on a fresh one',
    async (method) => {
      const { dataSource, locks } = await service({ poolSize: 3 });
      const deadPids = await idlePool(dataSource, 3);
      terminateUnnoticed(...deadPids);
      let heldBy: number | undefined;
      const result = await locks[method](ID, TYPE, async (_: unknown, lock: HeldLock) => {
        heldBy = await holderOf(observer, KEY);
        return lock.backendPid;
      });
      const value = typeof result === 'number' ? result : (result as { value: number }).value;
      expect(deadPids).not.toContain(value);
      expect(heldBy).toBe(value);
    },
  );

  it("the followers' lock-free read of the migrations table survives a pool of dead connections", async () => {
    const { dataSource } = await service({ poolSize: 3, migrations: [] });
    terminateUnnoticed(...(await idlePool(dataSource, 3)));
    expect(await pendingMigrationNames(dataSource)).toEqual([]);
  });

  it('aborting while holding cancels the running statement and rolls the work back', async () => {
    const { locks } = await service();
    const controller = new AbortController();
    // Held before the work starts: otherwise the work may take it first and finish (a race).
    await observer.query('SELECT pg_advisory_lock(4242)');
    const attempt = locks.withLock(
      ID,
      TYPE,
      async (manager) => {
        await manager.query(`INSERT INTO notes VALUES ('aborted work')`);
        // A statement that runs until cancelled: waits for a lock the observer holds.
        await manager.query('SELECT pg_advisory_lock(4242)');
      },
      { signal: controller.signal },
    );
    try {
      await waiterOnGate(observer, 4242);
      controller.abort();
      const error = (await attempt.catch((e: unknown) => e)) as LockAbortedError;
      expect(error).toBeInstanceOf(LockAbortedError);
      expect(error.phase).toBe('holding');
    } finally {
      await observer.query('SELECT pg_advisory_unlock(4242)');
    }
    const { rows } = await observer.query(`SELECT * FROM notes WHERE body = 'aborted work'`);
    expect(rows).toEqual([]);
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
  });

  it('rolls back and rethrows when fn throws, and frees the lock', async () => {
    const { locks } = await service();
    const failure = new Error('boom');
    await expect(
      locks.withLock(ID, TYPE, async (manager) => {
        await manager.query(`INSERT INTO notes VALUES ('rolled back')`);
        throw failure;
      }),
    ).rejects.toBe(failure);
    const { rows } = await observer.query(`SELECT * FROM notes WHERE body = 'rolled back'`);
    expect(rows).toEqual([]);
    const { locks: other } = await service();
    expect(await other.tryWithLock(ID, TYPE, async () => 'free')).toEqual({
      acquired: true,
      value: 'free',
    });
  });

  it('never reports success when PostgreSQL turns COMMIT into ROLLBACK', async () => {
    const { locks } = await service();
    const attempt = locks.withLock(ID, TYPE, async (manager) => {
      await manager.query(`INSERT INTO notes VALUES ('swallowed')`);
      await manager.query('SELECT 1/0').catch(() => 'caught and ignored');
      return 'looks fine';
    });
    await expect(attempt).rejects.toBeInstanceOf(TransactionRolledBackError);
    const { rows } = await observer.query(`SELECT * FROM notes WHERE body = 'swallowed'`);
    expect(rows).toEqual([]);
  });

  it('fails with LockLostError when the lock connection is terminated while fn runs', async () => {
    const { locks } = await service();
    const holding = deferred<number>();
    const proceed = deferred();
    let signalledLoss = false;
    let stoppingAfterLoss = false;
    const attempt = locks.withLock(ID, TYPE, async (manager, lock) => {
      holding.resolve(lock.backendPid);
      await proceed.promise;
      // The error of this query is swallowed on purpose: the loss must still be reported.
      await manager.query(`INSERT INTO notes VALUES ('after loss')`).catch(() => undefined);
      // The client learns of the loss through its 'end' event, possibly just after the query fails.
      signalledLoss = await new Promise<boolean>((resolve) =>
        lock.signal.aborted
          ? resolve(true)
          : lock.signal.addEventListener('abort', () => resolve(true)),
      );
      // The runner's check between migrations says the same as the signal.
      stoppingAfterLoss = lock.stopping;
      return 'looks fine';
    });
    const pid = await holding.promise;
    await observer.query('SELECT pg_terminate_backend($1)', [pid]);
    proceed.resolve();
    const error = (await attempt.catch((e: unknown) => e)) as LockLostError;
    expect(error).toBeInstanceOf(LockLostError);
    expect(error.code).toBe('LOCK_LOST');
    expect(signalledLoss).toBe(true);
    expect(stoppingAfterLoss).toBe(true);
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    // The DataSource recovers: the dead connection was not returned to the pool.
    expect(await locks.withLock(ID, TYPE, async () => 'again')).toBe('again');
  });

  it('lock.signal is live while held, aborted once the hold is over, and carries the caller abort; the lock serializes plainly', async () => {
    const { locks } = await service();
    let kept: HeldLock | undefined;
    let abortedWhileHeld: boolean | undefined;
    let stoppingWhileHeld: boolean | undefined;
    await locks.withLock(ID, TYPE, async (_manager, lock) => {
      kept = lock;
      // The runner's check between migrations, before the signal exists, then the signal.
      stoppingWhileHeld = lock.stopping;
      abortedWhileHeld = lock.signal.aborted;
    });
    expect(stoppingWhileHeld).toBe(false);
    expect(abortedWhileHeld).toBe(false);
    // Work may log the lock: it serializes to its plain facts, nothing of its connection.
    expect(Object.keys(JSON.parse(JSON.stringify(kept))).sort()).toEqual([
      'acquiredAt',
      'backendPid',
      'id',
      'key',
      'type',
      'waitedMs',
    ]);
    let firedAtEnd = false;
    let unread: HeldLock | undefined;
    await locks.withLock(ID, TYPE, async (_manager, lock) => {
      lock.signal.addEventListener('abort', () => (firedAtEnd = true));
    });
    await locks.withLock(ID, TYPE, async (_manager, lock) => void (unread = lock));
    expect(firedAtEnd).toBe(true);
    // A hold whose signal was never made is stopping once it is over, too.
    expect(unread!.stopping).toBe(true);
    // Read for the first time only after the hold ended: already aborted.
    expect(kept?.signal.aborted).toBe(true);

    const controller = new AbortController();
    const reason = new Error('shutting down');
    let seen: unknown;
    let stoppingOnAbort: boolean | undefined;
    const attempt = locks.withLock(
      ID,
      TYPE,
      async (_manager, lock) => {
        controller.abort(reason);
        stoppingOnAbort = lock.stopping;
        seen = lock.signal.reason;
      },
      { signal: controller.signal },
    );
    await expect(attempt).rejects.toBeInstanceOf(LockAbortedError);
    expect(seen).toBe(reason);
    expect(stoppingOnAbort).toBe(true);
  });

  it('tryWithLock returns { acquired: false } at once while another session holds the lock', async () => {
    const { locks: holderLocks } = await service();
    const { locks } = await service();
    const release = deferred();
    const holder = holderLocks.withLock(ID, TYPE, () => release.promise);
    await holderOf(observer, KEY);
    expect(await locks.tryWithLock(ID, TYPE, async () => 'ran')).toEqual({ acquired: false });
    release.resolve();
    await holder;
    expect(await locks.tryWithLock(ID, TYPE, async () => 'ran')).toEqual({
      acquired: true,
      value: 'ran',
    });
  });

  describe('tryWithLockOrWait', () => {
    it('runs fn under the lock when it is free', async () => {
      const { locks } = await service();
      const result = await locks.tryWithLockOrWait(ID, TYPE, async (_manager, lock) => {
        expect((await advisoryLockRows(observer, KEY)).map((r) => r.pid)).toEqual([
          lock.backendPid,
        ]);
        return 'ran';
      });
      expect(result).toEqual({ acquired: true, value: 'ran' });
      expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    });

    it('waits for the holder without taking the lock, then lets every waiter go with { acquired: false }', async () => {
      const { locks: holderLocks } = await service();
      const release = deferred();
      const holder = holderLocks.withLock(ID, TYPE, () => release.promise);
      const holderPid = await holderOf(observer, KEY);
      const ran: string[] = [];
      let settled = 0;
      const waiters = await Promise.all([service(), service()]);
      const attempts = waiters.map(({ locks }, i) =>
        locks
          .tryWithLockOrWait(ID, TYPE, async () => void ran.push(`waiter ${i}`))
          .finally(() => settled++),
      );
      const waiterPids = await waitersFor(observer, KEY, 2);
      // Both wait in the shared form, blocked by the holder only (not queued behind each other).
      const { rows } = await observer.query<{ mode: string; blockers: number[] }>(
        `SELECT mode, pg_blocking_pids(pid) AS blockers FROM pg_locks
          WHERE locktype = 'advisory' AND NOT granted AND pid = ANY($1::int4[])`,
        [waiterPids],
      );
      expect(rows).toEqual([
        { mode: 'ShareLock', blockers: [holderPid] },
        { mode: 'ShareLock', blockers: [holderPid] },
      ]);
      expect(settled).toBe(0);
      release.resolve();
      await holder;
      expect(await Promise.all(attempts)).toEqual([{ acquired: false }, { acquired: false }]);
      expect(ran).toEqual([]);
      expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    });

    it('a follow given readAfterRelease brings what the holder committed, read in the answer that ends the wait; an error its answerFor takes is its answer', async () => {
      const { dataSource, locks } = await service({ poolSize: 1 });
      const request = { ...lockIdentity(ID, TYPE), signal: undefined, timeoutMs: 10_000 };
      const follow = (table: string) =>
        locks.hold(
          {
            form: 'transaction',
            whenHeld: 'follow',
            readAfterRelease: {
              sql: `SELECT body FROM ${table}`,
              parse: (rows) => rows.map((row) => row.body),
              answerFor: (error) =>
                (error as { code?: string }).code === '42P01' ? ['no table'] : undefined,
            },
          },
          request,
          async () => 'never',
        );
      const holder = await xactHolder();
      const afterHolder = follow('written_by_holder');
      await waitersFor(observer, KEY, 1);
      // Made while the follower waits: only a read after the holder's commit can see it.
      await holder.query('CREATE TABLE written_by_holder (body text NOT NULL)');
      await holder.query(`INSERT INTO written_by_holder VALUES ('holder')`);
      await holder.query('COMMIT');
      expect(await afterHolder).toEqual({ acquired: false, read: ['holder'] });
      const secondHolder = await xactHolder();
      const missingTable = follow('never_created');
      await waitersFor(observer, KEY, 1);
      await secondHolder.query('COMMIT');
      expect(await missingTable).toEqual({ acquired: false, read: ['no table'] });
      await Promise.all([holder.end(), secondHolder.end()]);
      // The pool's one connection came back outside any transaction, holding nothing.
      const [{ pid }] = (await dataSource.query('SELECT pg_backend_pid() AS pid')) as [
        { pid: number },
      ];
      const { rows: states } = await observer.query(
        'SELECT state FROM pg_stat_activity WHERE pid = $1',
        [pid],
      );
      expect(states).toEqual([{ state: 'idle' }]);
      expect(await advisoryLockRows(observer, KEY)).toEqual([]);
      expect(await locks.withLock(ID, TYPE, async () => 'next')).toBe('next');
    });

    it('times out with LockTimeoutError naming the holder, leaving nothing behind', async () => {
      const holder = await xactHolder();
      const { locks } = await service();
      try {
        const error = (await locks
          .tryWithLockOrWait(ID, TYPE, async () => 'never', { timeoutMs: 150 })
          .catch((e: unknown) => e)) as LockTimeoutError;
        expect(error).toBeInstanceOf(LockTimeoutError);
        expect(error.holder).toMatchObject({ applicationName: 'holder-app' });
        expect((await advisoryLockRows(observer, KEY)).filter((r) => !r.granted)).toEqual([]);
      } finally {
        await holder.end();
      }
    });
  });

  it('works with a pool of one connection, nested transactions included', async () => {
    const { locks } = await service({ poolSize: 1 });
    const result = await locks.withLock(ID, TYPE, async (manager) => {
      await manager.query(`INSERT INTO notes VALUES ('outer')`);
      await manager
        .transaction(async (inner) => {
          await inner.query(`INSERT INTO notes VALUES ('inner')`);
          throw new Error('inner fails');
        })
        .catch(() => undefined);
      return (await manager.query(
        `SELECT body FROM notes WHERE body IN ('outer', 'inner')`,
      )) as unknown[];
    });
    expect(result).toEqual([{ body: 'outer' }]);
    const { rows } = await observer.query(
      `SELECT body FROM notes WHERE body IN ('outer', 'inner')`,
    );
    expect(rows).toEqual([{ body: 'outer' }]);
  });

  it('is re-entrant: a nested withLock on the same key runs inside the outer lock', async () => {
    const { locks } = await service({ poolSize: 1 });
    const seen = await locks.withLock(ID, TYPE, async (outerManager, outerLock) =>
      locks.withLock(ID, TYPE, async (innerManager, innerLock) => {
        const rows = await advisoryLockRows(observer, KEY);
        return {
          sameManager: innerManager === outerManager,
          sameLock: innerLock === outerLock,
          rows,
        };
      }),
    );
    expect(seen.sameManager).toBe(true);
    expect(seen.sameLock).toBe(true);
    expect(seen.rows).toHaveLength(1);
  });

  it('does not run work left behind by an ended hold "inside" it: a later call takes the lock itself', async () => {
    const { locks } = await service();
    const holdEnded = deferred();
    let leftBehind: Promise<{ pid: number; rows: number[] }> | undefined;
    const outerPid = await locks.withLock(ID, TYPE, async (_manager, lock) => {
      // Started inside the hold, never awaited by it: it keeps the async context.
      leftBehind = holdEnded.promise.then(() =>
        locks.withLock(ID, TYPE, async (_inner, innerLock) => ({
          pid: innerLock.backendPid,
          rows: (await advisoryLockRows(observer, KEY))
            .filter((row) => row.granted)
            .map((row) => row.pid),
        })),
      );
      return lock.backendPid;
    });
    expect(await advisoryLockRows(observer, KEY)).toEqual([]);
    holdEnded.resolve();
    const inner = await leftBehind!;
    // It held the lock on the server itself (the outer hold and its connection are gone).
    expect(inner.rows).toEqual([inner.pid]);
    expect(typeof outerPid).toBe('number');
  });

  it('rejects bad input before any SQL runs', async () => {
    // Never initialized: any SQL would fail with a connection error instead.
    const { DataSource } = await import('typeorm');
    const locks = new AdvisoryLockService(new DataSource({ type: 'postgres', url: db.url }));
    await expect(locks.withLock('', TYPE, async () => 1)).rejects.toBeInstanceOf(
      InvalidLockArgumentError,
    );
    await expect(locks.withLock(ID, 7 as unknown as string, async () => 1)).rejects.toBeInstanceOf(
      InvalidLockArgumentError,
    );
    await expect(locks.withLock(ID, TYPE, 'nope' as never)).rejects.toBeInstanceOf(
      InvalidLockArgumentError,
    );
    await expect(locks.withLock(ID, TYPE, async () => 1, { timeoutMs: -1 })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
    await expect(
      locks.withLock(ID, TYPE, async () => 1, { timeoutMs: 1.5 }),
    ).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(
      locks.withLock(ID, TYPE, async () => 1, { timeout: 5 } as never),
    ).rejects.toBeInstanceOf(InvalidOptionsError);
    const aborted = AbortSignal.abort();
    await expect(
      locks.withLock(ID, TYPE, async () => 1, { signal: aborted }),
    ).rejects.toBeInstanceOf(LockAbortedError);
    expect(() => new AdvisoryLockService(dataSources[0], { timeoutMs: -5 })).toThrow(
      InvalidOptionsError,
    );
  });
});
