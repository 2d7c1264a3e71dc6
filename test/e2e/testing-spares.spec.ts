import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type pg from 'pg';
import { InvalidOptionsError } from '../../src/errors/migration-lock.errors.js';
import { createTestDatabase } from '../../src/testing/index.js';
import { HAND_OVER_MS } from '../../src/testing/exit-cleanup.js';
import { namesFor } from '../../src/testing/test-database-names.js';
import { spareAppOptions } from '../fixtures/testing-entry/spare-app.mjs';
import { pollUntil } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase as createBaseDatabase,
  type TestDatabase,
} from '../support/test-database.js';

const run = promisify(execFile);

interface Database {
  oid: number;
  name: string;
}

/*
 * Spares (createTestDatabase's prepareNext): each call clones the next test database ahead, in the
 * background, and the next call, in this process or another, renames it instead of cloning. The
 * rename keeps the database's oid, which is how these tests tell a claimed spare from a clone.
 */
describe('createTestDatabase spares (prepareNext)', () => {
  let base: TestDatabase;
  let admin: pg.Client;
  let namespace = '';

  const databases = async (pattern: string): Promise<Database[]> =>
    (
      await admin.query<Database>(
        'SELECT oid::int AS oid, datname AS name FROM pg_database WHERE datname LIKE $1 ORDER BY 2',
        [pattern],
      )
    ).rows;

  /** The template of this test's base database, as the package names it (not any new template). */
  const templateOf = async (): Promise<string> =>
    (await namesFor(spareAppOptions(base.url))).template;

  /** How many sessions of process `pid` are cloning a spare (by their application_name). */
  const cloning = async (pid: number): Promise<number> =>
    (
      await admin.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'nestjs-migration-lock:spare %\\_' || $1`,
        [String(pid)],
      )
    ).rowCount ?? 0;

  /** The spare this process's sessions finished cloning (none of them still at work). */
  const readySpare = (pid = process.pid) =>
    pollUntil(async () => {
      if (await cloning(pid)) return undefined;
      const [spare] = await databases(`${namespace}\\_s\\_%\\_${pid}\\_%`);
      return spare;
    }, `a spare of process ${pid}`);

  /**
   * Until nothing of process `pid` is left: no session cloning a spare, no database of its own. A
   * finished spare is kept for the next test file's process until the process's parent has ended
   * or HAND_OVER_MS have passed, hence the longer limit.
   */
  const nothingLeftOf = (pid: number) =>
    pollUntil(
      async () => {
        const left = await databases(`${namespace}\\_%\\_${pid}\\_%`);
        return (await cloning(pid)) || left.length ? undefined : true;
      },
      `the databases and sessions of process ${pid} to be gone`,
      HAND_OVER_MS + 20_000,
    );

  beforeEach(async () => {
    base = await createBaseDatabase('spares');
    namespace = `mlt_${(await namesFor(spareAppOptions(base.url))).namespace}`;
    admin = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'observer');
  });

  afterEach(async () => {
    if (namespace) {
      // A test that dropped its base database leaves an orphan template, which another file's
      // template build may drop meanwhile.
      for (const { name } of await databases(`${namespace}\\_%`)) {
        await admin.query(`ALTER DATABASE "${name}" IS_TEMPLATE false`).catch(() => undefined);
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }
    }
    namespace = '';
    await admin.end();
    await base.drop();
  });

  it('the next call renames the spare made ahead: a migrated database of its own, not a clone', async () => {
    const first = await createTestDatabase({ dataSourceOptions: spareAppOptions(base.url) });
    const spare = await readySpare();
    const firstClient = await connectClient(first.url);
    await firstClient.query(`INSERT INTO things VALUES ('first')`);
    await firstClient.end();

    const second = await createTestDatabase({ dataSourceOptions: spareAppOptions(base.url) });
    expect(await databases(second.name)).toEqual([{ oid: spare.oid, name: second.name }]);
    expect(await databases(spare.name)).toEqual([]);
    const secondClient = await connectClient(second.url);
    expect((await secondClient.query('SELECT body FROM things')).rows).toEqual([]);
    await secondClient.end();

    // The second call made the next spare in turn.
    const next = await readySpare();
    expect(next.oid).not.toBe(spare.oid);
    await first.drop();
    await second.drop();
  });

  it("a call that finds this process's spare still cloning waits for it instead of cloning beside it", async () => {
    const first = await createTestDatabase({ dataSourceOptions: spareAppOptions(base.url) });
    const template = await templateOf();
    await readySpare();
    // The second call claims the ready spare; the clone of the next one then waits on the held
    // template, so a third call finds no spare ready and this process's clone on its way.
    const hold = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'hold');
    await hold.query('BEGIN');
    await hold.query(`COMMENT ON DATABASE "${template}" IS 'held by a test'`);
    let third: Promise<Awaited<ReturnType<typeof createTestDatabase>>>;
    try {
      const second = await createTestDatabase({ dataSourceOptions: spareAppOptions(base.url) });
      // At once, before the next spare's clone (started in the background) has connected: the
      // third call must still wait for it rather than find the spare lock free and clone beside it.
      third = createTestDatabase({ dataSourceOptions: spareAppOptions(base.url) });
      // The third call waits for the spare (an advisory wait), not on the template (a clone's).
      const waits = await pollUntil(async () => {
        const { rows } = await admin.query<{ wait_event: string }>(
          `SELECT wait_event FROM pg_stat_activity
            WHERE application_name = 'nestjs-migration-lock:testing' AND datname = $1
              AND wait_event_type = 'Lock'`,
          [base.name],
        );
        return rows.length ? rows.map((row) => row.wait_event) : undefined;
      }, 'the third call waiting');
      expect(waits).toEqual(['advisory']);
      await second.drop();
    } finally {
      await hold.query('ROLLBACK');
      await hold.end();
    }
    const db = await third;
    const client = await connectClient(db.url);
    expect((await client.query('SELECT body FROM things')).rows).toEqual([]);
    await client.end();
    await db.drop();
    await first.drop();
  });

  it("hands a finished spare over to the next test file's own process (vitest, node --test), then drops it", async () => {
    // One file after another, each in a process of its own, started by a runner that outlives them.
    const runner = spawn(process.execPath, ['test/fixtures/testing-entry/file-runner.mjs', '2'], {
      env: { ...process.env, DATABASE_URL: base.url },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const files: Array<{ oid: number; pid: number; spare: Database }> = [];
    for await (const line of createInterface({ input: runner.stdout })) {
      if (line.startsWith('{')) files.push(JSON.parse(line) as (typeof files)[number]);
      if (files.length === 2) break;
    }
    const [first, second] = files;
    // The second file's database is the spare of the first, renamed after that process ended.
    expect(second.oid).toBe(first.spare.oid);
    // The second one's spare, unclaimed, goes once the runner has ended.
    runner.stdin.end();
    await once(runner, 'exit');
    await nothingLeftOf(first.pid);
    await nothingLeftOf(second.pid);
  });

  it('claims a finished spare whose process was killed with its cleanup, rather than drop it', async () => {
    const first = await createTestDatabase({
      dataSourceOptions: spareAppOptions(base.url),
      prepareNext: false,
    });
    // A spare of this template, named as a process of this host that no longer runs names it.
    const naming = await namesFor(spareAppOptions(base.url));
    const gone = spawn(process.execPath, ['-e', '']);
    await once(gone, 'exit');
    const orphan = naming.newSpare().replace(`_${process.pid}_`, `_${gone.pid}_`);
    await admin.query(`CREATE DATABASE "${orphan}" TEMPLATE "${naming.template}"`);
    const [made] = await databases(orphan);

    const second = await createTestDatabase({
      dataSourceOptions: spareAppOptions(base.url),
      prepareNext: false,
    });
    expect(await databases(second.name)).toEqual([{ oid: made.oid, name: second.name }]);
    await first.drop();
    await second.drop();
  });

  it('rejects a prepareNext that is not a boolean before any SQL runs', async () => {
    const unreachable = spareAppOptions('postgres://nobody@127.0.0.1:1/none');
    await expect(
      createTestDatabase({ dataSourceOptions: unreachable, prepareNext: 'yes' as never }),
    ).rejects.toBeInstanceOf(InvalidOptionsError);
  });

  it.each(['exit', 'SIGKILL'])(
    "another process claims this process's spare, and leaves nothing behind when it ends (%s) mid-clone",
    async (how) => {
      const first = await createTestDatabase({ dataSourceOptions: spareAppOptions(base.url) });
      const template = await templateOf();
      const spare = await readySpare();
      // Holds the template: the child's own spare clone then waits (ShareUpdateExclusive on the
      // database blocks the clone's Share lock) until the child has ended.
      const hold = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'hold');
      await hold.query('BEGIN');
      await hold.query(`COMMENT ON DATABASE "${template}" IS 'held by a test'`);
      let stdout: string;
      try {
        stdout = await run(
          process.execPath,
          ['test/fixtures/testing-entry/exit-while-cloning.mjs', how],
          { env: { ...process.env, DATABASE_URL: base.url } },
        ).then(
          (result) => result.stdout,
          (error: { signal?: string; stdout: string }) => {
            if (error.signal !== how) throw error;
            return error.stdout;
          },
        );
      } finally {
        await hold.query('ROLLBACK');
        await hold.end();
      }
      const child = JSON.parse(stdout) as { name: string; oid: number; pid: number };
      // The child's database was this process's spare, renamed.
      expect(child.oid).toBe(spare.oid);
      // Its cleanup runs after it: its database (there until dropped) and its spare go, the
      // spare's clone ended rather than left to finish once the template is free.
      await nothingLeftOf(child.pid);
      expect(await databases(spare.name)).toEqual([]);
      await first.drop();
    },
  );

  it('cleans up through the maintenance database when the base database is gone first', async () => {
    // A CI job that drops its base database as soon as its tests end: the child's cleanup runs
    // after that, and must still reach the server.
    const child = spawn(
      process.execPath,
      ['test/fixtures/testing-entry/exit-while-cloning.mjs', 'stdin-end'],
      { env: { ...process.env, DATABASE_URL: base.url }, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    // Its last line; the lines before are the template build's log.
    let made: { name: string; pid: number } | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.startsWith('{')) continue;
      made = JSON.parse(line) as typeof made;
      break;
    }
    if (!made) throw new Error('the child printed no database');
    expect(await databases(made.name)).toHaveLength(1);
    await base.drop();
    child.stdin.end();
    await once(child, 'exit');
    await nothingLeftOf(made.pid);
  });
});
