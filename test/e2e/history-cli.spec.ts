import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * `migration-lock validate`, `history`, `run --dry-run` and the drift line of `status`, as a CI
 * job runs them: the built bin, a data source file whose migrations the test edits between runs.
 */
const execFileAsync = promisify(execFile);
const CLI = 'dist/esm/cli/main.js';
const DATA_SOURCE = 'test/fixtures/history-data-source.mjs';
const KEY = advisoryLockKey('migrations', 'Migrations');

type Spec = { name: string; statements: string[]; reads?: string };

const users: Spec = {
  name: 'Users1700000000001',
  statements: ["CREATE TABLE users (id int PRIMARY KEY, name text DEFAULT 'anonymous')"],
};
const orders: Spec = {
  name: 'Orders1700000000002',
  statements: [
    'CREATE TABLE orders (id int PRIMARY KEY, user_id int REFERENCES users (id))',
    'CREATE INDEX orders_user_idx ON orders (user_id)',
  ],
};
const audit: Spec = {
  name: 'Audit1700000000003',
  statements: ['CREATE TABLE audit (at timestamptz)', "INSERT INTO users VALUES (1, 'root')"],
};
const backfill: Spec = {
  name: 'Backfill1700000000004',
  reads: 'SELECT id FROM users LIMIT 1',
  statements: ["UPDATE users SET name = 'admin' WHERE id = 1"],
};

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

describe('migration-lock validate, history and run --dry-run', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let dir: string;

  async function cli(args: string[], specs: Spec[], env: Record<string, string> = {}) {
    try {
      const { stdout, stderr } = await execFileAsync(
        process.execPath,
        [CLI, ...args, '-d', DATA_SOURCE],
        {
          env: {
            ...process.env,
            DATABASE_URL: db.url,
            HISTORY_MIGRATIONS: JSON.stringify(specs),
            ...env,
          },
        },
      );
      return { code: 0, stdout, stderr } as CliResult;
    } catch (error) {
      const failed = error as CliResult;
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  /** What the database holds: relations, columns, the migrations and the history (if any). */
  async function snapshot(): Promise<unknown> {
    const relations = await observer.query(
      `SELECT c.relname, c.relkind, a.attname, a.atttypid::regtype::text AS type
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
        WHERE n.nspname = 'public' ORDER BY 1, 3`,
    );
    const migrations = await observer.query('SELECT * FROM migrations ORDER BY id');
    const history = await observer
      .query(`SELECT * FROM migration_lock_history ORDER BY id`)
      .catch(() => ({ rows: 'no history table' }));
    const users = await observer
      .query('SELECT * FROM users ORDER BY id')
      .catch(() => ({ rows: [] }));
    return {
      relations: relations.rows,
      migrations: migrations.rows,
      history: history.rows,
      users: users.rows,
    };
  }

  beforeEach(async () => {
    db = await createTestDatabase('history_cli');
    observer = await connectClient(db.url, 'observer');
    dir = mkdtempSync(join(tmpdir(), 'history-cli-'));
  });

  afterEach(async () => {
    await observer.end();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('validate: exit 0 when clean, 1 naming each changed, missing and out-of-order migration', async () => {
    expect((await cli(['run'], [users, orders, audit])).code).toBe(0);
    const clean = await cli(['validate'], [users, orders, audit]);
    expect(clean).toMatchObject({ code: 0, stdout: expect.stringContaining('matches the code') });

    const edited = { ...users, statements: [users.statements[0].replace('anonymous', 'nobody')] };
    const late: Spec = { name: 'Late1700000000002', statements: ['CREATE TABLE late (id int)'] };
    const drift = await cli(['validate'], [edited, late, audit]);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(/^changed +Users1700000000001 /m);
    expect(drift.stdout).toMatch(/^missing +Orders1700000000002 /m);
    expect(drift.stdout).toMatch(/^out of order +Late1700000000002 /m);

    const json = JSON.parse((await cli(['validate', '--json'], [edited, late, audit])).stdout);
    expect(json).toMatchObject({ status: 'drift', clean: false });
    expect(json.findings.map((f: { kind: string }) => f.kind).sort()).toEqual([
      'changed',
      'missing',
      'outOfOrder',
    ]);

    // `status` sums it up in a line; `run --validate fail` refuses, exit 1, nothing applied.
    const status = await cli(['status'], [edited, late, audit]);
    expect(status.stdout).toContain('History: drift: 1 changed, 1 missing, 1 out of order');
    const refused = await cli(['run', '--validate', 'fail'], [edited, late, audit]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('does not match the code');
    expect((await observer.query(`SELECT to_regclass('late') IS NULL AS absent`)).rows).toEqual([
      { absent: true },
    ]);
    // `run` (validate warn): says so on stderr, and applies.
    const warned = await cli(['run'], [edited, late, audit]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toContain('changed since applied: Users1700000000001');
  });

  it('validate and history: exit 2 on bad usage', async () => {
    expect((await cli(['validate', '--no-such-flag'], [users])).code).toBe(2);
    expect((await cli(['history', '--limit', 'many'], [users])).code).toBe(2);
    expect((await cli(['history', '--history-table', 'a"b'], [users])).code).toBe(2);
  });

  it('history: applied migrations newest first with who, when, how long and checksum status; failed attempts apart', async () => {
    const failing: Spec = {
      name: 'Broken1700000000009',
      statements: ['SELECT * FROM no_such_table'],
    };
    expect((await cli(['run'], [users, orders])).code).toBe(0);
    expect((await cli(['run'], [users, orders, failing])).code).toBe(1);
    const text = await cli(['history'], [users, orders, failing]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    const applied = lines.indexOf('Applied migrations, newest first (2):');
    const failed = lines.indexOf('Failed attempts, newest first (1):');
    expect(applied).toBeGreaterThanOrEqual(0);
    expect(lines[applied + 1]).toMatch(
      /^ {2}Orders1700000000002 .* by migration-lock:.* ms {2}checksum ok$/,
    );
    expect(lines[applied + 2]).toMatch(/^ {2}Users1700000000001 /);
    expect(lines[failed + 1]).toMatch(
      /^ {2}Broken1700000000009 .*42P01: relation "no_such_table" does not exist/,
    );

    const json = JSON.parse(
      (await cli(['history', '--json', '--limit', '1'], [users, orders])).stdout,
    );
    expect(json.applied).toEqual([
      expect.objectContaining({
        name: 'Orders1700000000002',
        status: 'applied',
        checksumStatus: 'ok',
        applicationName: expect.stringMatching(/^migration-lock:/),
        host: expect.any(String),
        pid: expect.any(Number),
        durationMs: expect.any(Number),
      }),
    ]);
    expect(json.failed).toEqual([
      expect.objectContaining({ name: 'Broken1700000000009', errorCode: '42P01' }),
    ]);
  });

  it('run --dry-run: prints the SQL a real run then sends, marks what depends on data, takes no lock, changes nothing', async () => {
    expect((await cli(['run'], [users])).code).toBe(0);
    const before = await snapshot();
    // Another replica holds the migration lock: a dry run must not wait for it.
    const holder = await connectClient(db.url, 'holding-replica');
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    const dry = await cli(
      ['run', '--dry-run', '--json', '--timeout', '2s'],
      [users, orders, audit, backfill],
    );
    const text = await cli(
      ['run', '--dry-run', '--timeout', '2s'],
      [users, orders, audit, backfill],
    );
    await holder.query('ROLLBACK');
    await holder.end();
    expect(dry.code).toBe(0);
    expect(await snapshot()).toEqual(before);

    const { pending } = JSON.parse(dry.stdout) as {
      pending: Array<{ name: string; statements: Array<{ sql: string }>; dependsOnData?: string }>;
    };
    expect(pending.map((m) => [m.name, Boolean(m.dependsOnData)])).toEqual([
      ['Orders1700000000002', false],
      ['Audit1700000000003', false],
      ['Backfill1700000000004', true],
    ]);
    expect(text.stdout).toContain(`-- Backfill1700000000004 -- depends on data`);
    expect(text.stdout).toContain(`${orders.statements[1]};`);

    // The real run, every statement recorded: the dry run's statements are what it sent for them.
    const log = join(dir, 'queries.jsonl');
    expect(
      (await cli(['run'], [users, orders, audit, backfill], { RECORD_QUERIES: log })).code,
    ).toBe(0);
    const sent = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { sql: string; parameters?: unknown[] });
    const verifiable = pending.filter((m) => !m.dependsOnData).flatMap((m) => m.statements);
    const start = sent.findIndex((statement) => statement.sql === verifiable[0].sql);
    expect(sent.slice(start, start + verifiable.length)).toEqual(verifiable);
    // What depends on data was printed up to where it needed rows: its read.
    expect(pending[2].statements).toEqual([{ sql: backfill.reads }]);
    expect(sent).toContainEqual({ sql: backfill.statements[0] });
  });
});
