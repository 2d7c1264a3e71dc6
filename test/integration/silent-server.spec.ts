import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { LockLostError } from '../../src/errors/migration-lock.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { startFreezableProxy, type FreezableProxy } from '../support/freezable-proxy.js';
import {
  appliedOnce,
  migrationCounts,
  referenceMigrations,
} from '../support/migration-fixtures.js';
import { pollUntil, sessionLockPollers, waitersFor } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * A server that stops answering while a replica waits for the lock (its host gone in a failover, a
 * network cut): no answer ever comes, not even the lock_timeout error, and no FIN or RST either.
 * Every form of wait must still end, as a lost connection, soon after its own timeout.
 */
const KEY = advisoryLockKey('migrations', 'Migrations');
const TIMEOUT_MS = 1_000;

describe('a server that stops answering during a lock wait', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let holder: pg.Client;
  let holderPid: number;
  let proxy: FreezableProxy;
  let dataSource: DataSource;

  beforeEach(async () => {
    db = await createTestDatabase('silent_server');
    observer = await connectClient(db.url, 'observer');
    holder = await connectClient(db.url, 'holder');
    // A session lock blocks the transaction-level form of the same key too.
    const { rows } = await holder.query<{ pid: number }>(
      'SELECT pg_backend_pid() AS pid, pg_advisory_lock($1::int4, $2::int4)',
      [...KEY],
    );
    holderPid = rows[0].pid;
    proxy = await startFreezableProxy(db.url);
    dataSource = await openDataSource(proxy.url, { migrations: referenceMigrations });
  });

  afterEach(async () => {
    // The proxy first: the pool's idle connections through it would wait forever for their end.
    await proxy.close();
    await dataSource.destroy();
    await holder.end();
    await observer.end();
    await db.drop();
  });

  /** The waiter's session, idle after its last try of the session lock (it waits between polls). */
  const sessionWaiterPolled = () =>
    pollUntil(async () => {
      const pollers = await sessionLockPollers(observer, { except: [holderPid] });
      return pollers.find((poller) => poller.idle)?.pid;
    }, 'a session-lock waiter');

  const runner = (transaction: 'all' | 'each') =>
    new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
      transaction,
      timeoutMs: TIMEOUT_MS,
    });

  it('a pooled connection it left silent is replaced: the reads and the lock go again on new ones', async () => {
    await holder.query('SELECT pg_advisory_unlock_all()');
    // Two idle connections in the pool, both silenced below: the run meets each, however it goes.
    await Promise.all([dataSource.query('SELECT 1'), dataSource.query('SELECT 1')]);
    proxy.freeze();
    const result = await runner('all').run();
    expect(result.outcome).toBe('applied');
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
  });

  it('withLock: the waiting statement ends as LockLostError (waiting)', async () => {
    const wait = new AdvisoryLockService(dataSource).withLock(
      'migrations',
      'Migrations',
      async () => 'ran',
      { timeoutMs: TIMEOUT_MS },
    );
    const settled = wait.catch((error: unknown) => error);
    await waitersFor(observer, KEY);
    proxy.freeze();
    const error = await settled;
    expect(error).toBeInstanceOf(LockLostError);
    expect(error).toMatchObject({ phase: 'waiting' });
    expect(String((error as Error).cause)).toContain('No answer from PostgreSQL for');
    // What a CLI user reads: the message alone.
    expect((error as Error).message).toContain('What ended it: No answer from PostgreSQL for');
  });

  it("mode all: the follower's shared wait ends as LockLostError (waiting)", async () => {
    const settled = runner('all')
      .run()
      .catch((error: unknown) => error);
    await waitersFor(observer, KEY);
    proxy.freeze();
    const error = await settled;
    expect(error).toBeInstanceOf(LockLostError);
    expect(error).toMatchObject({ phase: 'waiting' });
  });

  it("mode each: the session lock's polls end as LockLostError (waiting)", async () => {
    const settled = runner('each')
      .run()
      .catch((error: unknown) => error);
    await sessionWaiterPolled();
    proxy.freeze();
    const error = await settled;
    expect(error).toBeInstanceOf(LockLostError);
    expect(error).toMatchObject({ phase: 'waiting' });
  });
});
