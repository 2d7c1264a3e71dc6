import { spawn } from 'node:child_process';
import type pg from 'pg';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { pollUntil, sessionLockPollers, waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * A replica waiting for the migration lock when every one of its connections dies (a pooler or a
 * failover cutting them, backends terminated): the wait must end with an error, and the process
 * must exit non-zero saying why. Before, a waiting each-mode replica exited 0 in silence (nothing
 * settled the wait and the event loop emptied), and the CLI exited 13 with nothing printed.
 */
const KEY = advisoryLockKey('migrations', 'Migrations');

interface Exit {
  code: number | null;
  stderr: string;
}

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.resume();
  return new Promise<Exit>((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

describe('a waiting replica whose connections are all terminated', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let holder: pg.Client;

  beforeEach(async () => {
    db = await createTestDatabase('waiter_loss');
    observer = await connectClient(db.url, 'observer');
    holder = await connectClient(db.url, 'holder-app');
  });

  afterEach(async () => {
    await holder.end();
    await observer.end();
    await db.drop();
  });

  /** Terminates every backend of the process whose application_name starts with `prefix`. */
  async function terminateAll(prefix: string): Promise<void> {
    await observer.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND application_name LIKE $1`,
      [`${prefix}%`],
    );
  }

  /** The process's session-mode waiter, polling with pg_try_advisory_lock. */
  const pollingWaiter = (prefix: string) =>
    pollUntil(async () => {
      const [poller] = await sessionLockPollers(observer, { applicationName: `${prefix}%` });
      return poller?.pid;
    }, 'the session-mode waiter');

  it.each(['each', 'all'] as const)(
    'mode %s, a usual main.ts (bootstrap() not awaited): exits non-zero and prints the LockLostError',
    async (mode) => {
      if (mode === 'each') {
        await holder.query('SELECT pg_advisory_lock($1::int4, $2::int4)', [...KEY]);
      } else {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
      }
      const exited = start(['test/fixtures/usual-main.mjs'], { DATABASE_URL: db.url, MODE: mode });
      if (mode === 'each') await pollingWaiter('usual-main');
      else await waitersFor(observer, KEY);
      await terminateAll('usual-main');
      const { code, stderr } = await exited;
      expect(code).not.toBe(0);
      expect(stderr).toMatch(/Lost the connection while waiting for advisory lock/);
    },
  );

  it('the CLI (mode each) exits 1 and prints why', async () => {
    await holder.query('SELECT pg_advisory_lock($1::int4, $2::int4)', [...KEY]);
    const exited = start(
      [
        'dist/esm/cli/main.js',
        'run',
        '-d',
        'test/fixtures/data-source.mjs',
        '--transaction',
        'each',
        '--application-name',
        'cli-waiter',
        '--timeout',
        '0',
      ],
      { DATABASE_URL: db.url },
    );
    await pollingWaiter('cli-waiter');
    // Its other connections are named by the data source file: every backend but ours and the holder's.
    await observer.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid NOT IN (pg_backend_pid(), $1)`,
      [(await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid],
    );
    const { code, stderr } = await exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/Lost the connection while waiting for advisory lock/);
  });
});
