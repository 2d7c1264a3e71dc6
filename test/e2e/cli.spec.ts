import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import type pg from 'pg';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { appliedOnce, migrationCounts } from '../support/migration-fixtures.js';
import { pollUntil, waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

const execFileAsync = promisify(execFile);
const CLI = 'dist/esm/cli/main.js';
const DATA_SOURCE = 'test/fixtures/data-source.mjs';
const KEY = advisoryLockKey('migrations', 'Migrations');
const SECRET = 'hunter2-never-printed';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as an operator runs it (the built bin), against this test's database. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('migration-lock CLI (a process, like an init container)', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let env: Record<string, string>;
  const holders: pg.Client[] = [];

  /** Another replica holding the migration lock in its transaction. */
  async function runLockedWork(applicationName: string): Promise<pg.Client> {
    const holder = await connectClient(db.url, applicationName);
    holders.push(holder);
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    return holder;
  }

  // A role whose password is SECRET: the CLI connects with it, and must never print it.
  const role = `ml_cli_${process.pid}`;
  beforeAll(async () => {
    const admin = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'cli-test-admin');
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${SECRET}'`);
    await admin.end();
  });

  afterAll(async () => {
    const admin = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'cli-test-admin');
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  beforeEach(async () => {
    db = await createTestDatabase('cli');
    observer = await connectClient(db.url, 'observer');
    const url = new URL(db.url);
    url.username = role;
    url.password = SECRET;
    env = { DATABASE_URL: url.toString() };
  });

  afterEach(async () => {
    await Promise.all(holders.splice(0).map((h) => h.end().catch(() => undefined)));
    await observer.end();
    await db.drop();
  });

  const expectNoSecret = (result: CliResult) => {
    expect(`${result.stdout}${result.stderr}`).not.toContain(SECRET);
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/postgres(ql)?:\/\//);
  };

  it('run applies pending migrations (exit 0); again, nothing is pending; --json prints one object only', async () => {
    const first = await cli(['run', '-d', DATA_SOURCE], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Applied 4 migration(s)');
    expect(first.stderr).toContain('applied CreateClusters1732500000001');
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
    const second = await cli(['run', '-d', DATA_SOURCE, '--json'], env);
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'upToDate', applied: [] });
    expectNoSecret(first);
  });

  it.each([
    ['a missing file', ['run', '-d', 'test/fixtures/missing.mjs'], /not found/],
    [
      'a file without a DataSource',
      ['run', '-d', 'test/fixtures/no-data-source.mjs'],
      /exports no TypeORM DataSource/,
    ],
    ['a bad duration', ['run', '-d', DATA_SOURCE, '--timeout', 'soon'], /Invalid duration "soon"/],
    ['an empty duration', ['run', '-d', DATA_SOURCE, '--timeout', ''], /Invalid duration ""/],
    [
      'a bad connect timeout',
      ['run', '-d', DATA_SOURCE, '--connect-timeout', '-1'],
      /Invalid duration "-1" for --connect-timeout/,
    ],
    [
      'a file with two DataSources',
      ['run', '-d', 'test/fixtures/two-data-sources.mjs'],
      /exports 2 TypeORM DataSources/,
    ],
    ['a bad transaction mode', ['run', '-d', DATA_SOURCE, '--transaction', 'some'], /transaction/],
    ['an unknown command', ['migrate'], /unknown command/],
    ['no data source option', ['run'], /dataSource/],
  ])('exits 2 on %s, with one clear line', async (_what, args, message) => {
    const result = await cli(args as string[], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
    expectNoSecret(result);
  });

  it('prints usage on stderr and exits 2 when no command is given; --version prints the version', async () => {
    const none = await cli([], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage: migration-lock/);
    expect(none.stdout).toBe('');
    const version = await cli(['--version'], env);
    expect(version.code).toBe(0);
    const { version: expected } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      version: string;
    };
    expect(version.stdout.trim()).toBe(expected);
  });

  it('finds a CommonJS data source (exports.default), as the TypeORM CLI does', async () => {
    const result = await cli(['show', '-d', 'test/fixtures/data-source-commonjs.cjs'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('0 applied, 0 pending');
  });

  describe('against a server that accepts TCP and never answers', () => {
    let silent: Server;
    const accepted: Socket[] = [];
    beforeAll(async () => {
      silent = createServer((socket) => void accepted.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => {
      for (const socket of accepted) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });

    it('exits 2 after the connect timeout with one line naming host and port, never the password', async () => {
      const url = new URL(env.DATABASE_URL);
      url.hostname = '127.0.0.1';
      url.port = String((silent.address() as { port: number }).port);
      const result = await cli(['run', '-d', DATA_SOURCE, '--connect-timeout', '300ms'], {
        DATABASE_URL: url.toString(),
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`Cannot connect to the database at 127.0.0.1:${url.port}/`);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expectNoSecret(result);
    });
  });

  it('exits 2 when the database is unreachable, without printing the password or the URL', async () => {
    const unreachable = new URL(env.DATABASE_URL);
    unreachable.port = '1';
    unreachable.password = SECRET;
    const result = await cli(['run', '-d', DATA_SOURCE], { DATABASE_URL: unreachable.toString() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Cannot connect to the database/);
    expectNoSecret(result);
  });

  it('exits 75 (retry) when the lock wait times out, naming the holder', async () => {
    await runLockedWork('api-7f9c');
    const result = await cli(['run', '-d', DATA_SOURCE, '--timeout', '300ms', '--json'], env);
    expect(result.code).toBe(75);
    const output = JSON.parse(result.stdout) as { status: string; code: string; error: string };
    expect(output).toMatchObject({ status: 'failed', code: 'LOCK_TIMEOUT' });
    expect(output.error).toContain('api-7f9c');
    expect(result.stderr).toBe('');
  });

  it('exits 1 when a migration fails, naming it', async () => {
    const result = await cli(['run', '-d', DATA_SOURCE], { ...env, EXTRA_SCENARIOS: 'fail' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Broken1732500000008');
    expectNoSecret(result);
  });

  it('status names the holder (pid, application_name, state, query) and the waiters, as text and --json', async () => {
    const holder = await runLockedWork('api-7f9c');
    const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await holder.query(`SELECT 'holder is migrating'`);
    const waiting = cli(['run', '-d', DATA_SOURCE, '--application-name', 'replica-b'], env);
    const sessionWaiting = cli(
      ['run', '-d', DATA_SOURCE, '--transaction', 'each', '--application-name', 'replica-c'],
      env,
    );
    await waitersFor(observer, KEY);
    await pollUntil(async () => {
      const found = await observer.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'replica-c'`,
      );
      return found.rowCount ? true : undefined;
    }, 'the session-mode waiter');

    const text = await cli(['status', '-d', DATA_SOURCE], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('held, 2 waiting');
    expect(text.stdout).toMatch(new RegExp(`holder +pid ${rows[0].pid} \\(api-7f9c on `));
    expect(text.stdout).toContain("query: SELECT 'holder is migrating'");
    expect(text.stdout).toMatch(/waiter +pid \d+ \(replica-b on .*waiting for/);
    expect(text.stdout).toMatch(/waiter +pid \d+ \(replica-c on .*polling/);

    const json = await cli(['status', '-d', DATA_SOURCE, '--json', '--all'], env);
    const status = JSON.parse(json.stdout) as {
      holder: { pid: number; applicationName: string };
      waiters: Array<{ applicationName: string }>;
      all: Array<{ name: string | null; granted: boolean }>;
    };
    expect(status.holder).toMatchObject({ pid: rows[0].pid, applicationName: 'api-7f9c' });
    expect(status.waiters.map((w) => w.applicationName).sort()).toEqual(['replica-b', 'replica-c']);
    expect(status.all).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'migrations/Migrations', granted: true }),
      ]),
    );
    await holder.query('COMMIT');
    expect((await waiting).code).toBe(0);
    expect((await sessionWaiting).code).toBe(0);
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual(appliedOnce);
  });

  it('prints wait progress naming the holder while it waits', async () => {
    const holder = await runLockedWork('api-7f9c');
    const child = spawn(process.execPath, [CLI, 'run', '-d', DATA_SOURCE], {
      env: { ...process.env, ...env },
    });
    let stderr = '';
    const progressLine = new Promise<string>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const line = stderr.split('\n').find((l) => l.startsWith('waiting for migration lock'));
        if (line) resolve(line);
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(await progressLine).toMatch(
      /^waiting for migration lock held by pid \d+ \(api-7f9c on .+\) for \d+ s …$/,
    );
    await holder.query('COMMIT');
    expect(await exited).toBe(0);
  });

  it('revert takes the lock, then reverts the last migration', async () => {
    expect((await cli(['run', '-d', DATA_SOURCE], env)).code).toBe(0);
    const holder = await runLockedWork('api-7f9c');
    const blocked = await cli(['revert', '-d', DATA_SOURCE, '--timeout', '200'], env);
    expect(blocked.code).toBe(75);
    await holder.query('COMMIT');
    const reverted = await cli(['revert', '-d', DATA_SOURCE, '--json'], env);
    expect(reverted.code).toBe(0);
    expect(JSON.parse(reverted.stdout)).toEqual({
      status: 'reverted',
      reverted: 'ConstrainClusterNames1732500000004',
    });
    const shown = await cli(['show', '-d', DATA_SOURCE, '--json'], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      pending: ['ConstrainClusterNames1732500000004'],
    });
  });
});
