import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';
import { tenantLockKey } from '../../src/tenants/tenant-lock-key.js';
import { advisoryLocksInDatabase, rowsAppear } from '../support/observe.js';

/*
 * `migration-lock tenants run` as a fleet runs it: several processes of the built CLI started at
 * once over the same tenant schemas, each migration counted by a side effect outside the database
 * (a line in a file, with the pid that ran it). Without the per-tenant lock the first test fails:
 * tenants are migrated by two processes (measured with the lock taken out, see the #32 note).
 */
const CLI = 'dist/esm/cli/main.js';
const DATA_SOURCE = 'test/fixtures/history-data-source.mjs';
const TENANT_MIGRATIONS = 'test/fixtures/tenant-migrations/*.mjs';
const NAMES = [
  'Accounts1700000000001',
  'Invoices1700000000002',
  'Notes1700000000003',
  'Files1700000000004',
  'Audit1700000000005',
];
const GATE_KEY = 4242;
/** Schemas of the tests about one tenant (a kill, a failure). */
const SOME = 60;
const TENANT_ARGS = [
  '-d',
  DATA_SOURCE,
  '--tenant-migrations',
  TENANT_MIGRATIONS,
  '--schema-pattern',
  'tenant\\_%',
];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('migration-lock tenants run: a fleet of processes over 200 tenant schemas', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let dir: string;
  let effects: string;
  const rows = async (sql: string, params: unknown[] = []) =>
    (await observer.query(sql, params)).rows;

  /** Schemas tenant_001 … tenant_<count>, in one round trip. */
  async function tenantSchemas(count: number): Promise<void> {
    await observer.query(
      `DO $$ BEGIN FOR i IN 1..${count} LOOP EXECUTE format('CREATE SCHEMA %I', 'tenant_' || lpad(i::text, 3, '0')); END LOOP; END $$`,
    );
  }

  /** The built CLI as a child process, its output collected. */
  function spawnCli(args: string[], env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<Exit>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
    return { child, exited };
  }

  /** One replica: `tenants run` with its own application_name, so the test can find its sessions. */
  function replica(name: string, env: Record<string, string> = {}, args: string[] = []) {
    return spawnCli(
      ['tenants', 'run', ...TENANT_ARGS, '--application-name', name, '--json', ...args],
      { TENANT_EFFECTS: effects, ...env },
    );
  }

  /** A CLI command to its end. */
  function cli(args: string[]): Promise<Exit> {
    return spawnCli(args).exited;
  }

  /** Lines of the effects file: schema, migration, pid. */
  function effectLines(): Array<{ schema: string; name: string; pid: string }> {
    return readFileSync(effects, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [schema, name, pid] = line.split(' ');
        return { schema, name, pid };
      });
  }

  /** The sessions waiting for the gate lock the test holds, once there are `count` (bounded). */
  function gateWaiters(count: number): Promise<Array<{ pid: number; app: string }>> {
    return rowsAppear(
      observer,
      `${count} session(s) at the gate`,
      `SELECT l.pid, a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = $1 AND l.objsubid = 1
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [GATE_KEY],
      count,
    );
  }

  beforeEach(async () => {
    db = await createTestDatabase('tenant_fleet');
    observer = await connectClient(db.url, 'observer');
    dir = mkdtempSync(join(tmpdir(), 'tenant-fleet-'));
    effects = join(dir, 'effects');
  });

  afterEach(async () => {
    await observer.end();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('4 processes at once: every tenant migration once, the work spread, tables as TypeORM leaves them', async () => {
    await tenantSchemas(200);
    // Every tenant's first migration waits at the gate until all 4 processes are in (4 tenants
    // each, at concurrency 4): the work is then shared by construction, not by start-up timing.
    await observer.query('SELECT pg_advisory_lock($1)', [GATE_KEY]);
    const fleet = ['a', 'b', 'c', 'd'].map((name) =>
      replica(`replica-${name}`, { TENANT_GATE: `*:${NAMES[0]}` }),
    );
    await gateWaiters(16);
    await observer.query('SELECT pg_advisory_unlock($1)', [GATE_KEY]);
    const exits = await Promise.all(fleet.map((r) => r.exited));
    for (const exit of exits)
      expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: 0, stderr: '' });

    const lines = effectLines();
    expect(lines).toHaveLength(200 * 5);
    expect(new Set(lines.map((l) => `${l.schema} ${l.name}`)).size).toBe(200 * 5);
    // Each process applied a share; together every tenant, each tenant by one process.
    const results = exits.map(
      (exit) => JSON.parse(exit.stdout) as { migrated: number; current: number },
    );
    for (const result of results) {
      expect(result.migrated).toBeGreaterThanOrEqual(4);
      expect(result.migrated + result.current).toBe(200);
    }
    expect(results.reduce((sum, r) => sum + r.migrated, 0)).toBe(200);
    const pidsPerTenant = new Map<string, Set<string>>();
    for (const line of lines)
      pidsPerTenant.set(line.schema, (pidsPerTenant.get(line.schema) ?? new Set()).add(line.pid));
    expect([...pidsPerTenant.values()].every((pids) => pids.size === 1)).toBe(true);

    // One tenant as plain TypeORM leaves a schema it migrated with `schema` set.
    await observer.query('CREATE SCHEMA typeorm_ref');
    const plain = spawn(process.execPath, ['test/fixtures/typeorm-tenant.mjs', 'typeorm_ref'], {
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: 'inherit',
    });
    expect(await new Promise((resolve) => plain.on('exit', resolve))).toBe(0);
    expect(await schemaDump('tenant_137')).toEqual(await schemaDump('typeorm_ref'));
    expect(await advisoryLocksInDatabase(observer)).toBe(0);
  });

  it('kill -9 of a process in the middle of a tenant: another completes it, nothing half-applied', async () => {
    // Fewer schemas than the test above: what matters here is one tenant, and CI runs this often.
    await tenantSchemas(SOME);
    await observer.query('SELECT pg_advisory_lock($1)', [GATE_KEY]);
    const gate = { TENANT_GATE: `tenant_007:${NAMES[2]}` };
    const first = replica('replica-first', gate);
    const [held] = await gateWaiters(1);
    // The holder of tenant_007 sits in its third migration; the second process starts, finds it
    // held, and migrates everything else meanwhile.
    const second = replica('replica-second', gate);
    expect(held.app).toBe('replica-first');
    // An operator sees who migrates tenant_007 now.
    const status = await cli(['tenants', 'status', ...TENANT_ARGS, '--json']);
    expect(status.code).toBe(0);
    const tenant7 = (
      JSON.parse(status.stdout) as {
        tenants: Array<{ schema: string; holder: { applicationName: string } | null }>;
      }
    ).tenants.find((tenant) => tenant.schema === 'tenant_007');
    expect(tenant7).toMatchObject({
      state: 'pending',
      holder: { applicationName: 'replica-first' },
    });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    // The dead client's backend ends (and rolls back) once its lock wait does.
    await observer.query('SELECT pg_advisory_unlock($1)', [GATE_KEY]);
    const exit = await second.exited;
    expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await rows('SELECT name FROM tenant_007.migrations ORDER BY id')).toEqual(
      NAMES.map((name) => ({ name })),
    );
    // tenant_007 was migrated whole by the second process (the first's attempt rolled back).
    const byPid = effectLines().filter(
      (l) => l.schema === 'tenant_007' && l.pid === String(second.child.pid),
    );
    expect(byPid.map((l) => l.name)).toEqual(NAMES);
    const tables = await rows(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'tenant\\_%' AND tablename = 'migrations'`,
    );
    expect(tables).toEqual([{ n: SOME }]);
  });

  it('a tenant whose third migration fails: that schema as before, all others current, exit 1 naming it', async () => {
    await tenantSchemas(SOME);
    const run = replica('replica-one', { TENANT_FAIL: `tenant_050:${NAMES[2]}` }, [
      '--concurrency',
      '8',
    ]);
    const exit = await run.exited;
    expect(exit.code).toBe(1);
    const result = JSON.parse(exit.stdout) as {
      status: string;
      failed: unknown[];
      migrated: number;
    };
    expect(result.status).toBe('failed');
    expect(result.failed).toEqual([
      { schema: 'tenant_050', migration: NAMES[2], error: `${NAMES[2]} refuses tenant_050` },
    ]);
    expect(result.migrated).toBe(SOME - 1);
    expect(await rows(`SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_050'`)).toEqual(
      [],
    );
    expect(
      await rows(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'tenant\\_%'`),
    ).toEqual([{ n: (SOME - 1) * 6 }]);
    // Another process sees the failure: tenants status, from the history table.
    const [status, text, history] = await Promise.all([
      cli(['tenants', 'status', ...TENANT_ARGS, '--json']),
      cli(['tenants', 'status', ...TENANT_ARGS]),
      cli(['history', '-d', DATA_SOURCE, '--json']),
    ]);
    const tenant50 = (
      JSON.parse(status.stdout) as { tenants: Array<{ schema: string; lastFailure: unknown }> }
    ).tenants.find((tenant) => tenant.schema === 'tenant_050');
    expect(tenant50).toMatchObject({
      state: 'pending',
      applied: 0,
      lastFailure: { migration: NAMES[2], error: `${NAMES[2]} refuses tenant_050` },
    });
    expect(text.stdout).toContain(`last failed`);
    expect(text.stdout).toContain(`${SOME - 1} current, 1 pending (1 of them failed last time)`);
    // The shared history lists no tenant's attempt.
    expect(JSON.parse(history.stdout)).toMatchObject({ applied: [], failed: [] });
  });

  it('a tenant held past --timeout by another session: exit 75 (retry), the others migrated', async () => {
    await tenantSchemas(3);
    // Another session holds tenant_002's lock (as a replica migrating it would).
    const [k1, k2] = tenantLockKey('migrations', 'Migrations', 'tenant_002');
    await observer.query('SELECT pg_advisory_lock($1, $2)', [k1, k2]);
    const exit = await replica('replica-late', {}, ['--timeout', '1s']).exited;
    await observer.query('SELECT pg_advisory_unlock($1, $2)', [k1, k2]);
    expect(exit.code).toBe(75);
    expect(JSON.parse(exit.stdout)).toMatchObject({
      migrated: 2,
      failed: [{ schema: 'tenant_002', code: 'LOCK_TIMEOUT' }],
    });
  });

  it('bad usage exits 2 before any tenant is touched', async () => {
    const ownArgs = ['-d', DATA_SOURCE, '--tenant-migrations', TENANT_MIGRATIONS];
    const [both, neither, badName, concurrency] = await Promise.all([
      cli(['tenants', 'run', ...TENANT_ARGS, '--schemas', 'SELECT 1']),
      cli(['tenants', 'run', ...ownArgs]),
      cli([
        'tenants',
        'run',
        ...ownArgs,
        '--schemas',
        `SELECT 'tenant_001' UNION ALL SELECT 'x; DROP TABLE y'`,
      ]),
      cli(['tenants', 'run', ...TENANT_ARGS, '--concurrency', '0']),
    ]);
    expect(both.code).toBe(2);
    expect(neither).toMatchObject({ code: 2, stderr: expect.stringContaining('--schema-pattern') });
    expect(badName).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('Invalid tenant schema'),
    });
    expect(concurrency.code).toBe(2);
    expect(existsSync(effects)).toBe(false);
  });

  /** Tables, columns, constraints, indexes and migrations rows of a schema, its name taken out. */
  async function schemaDump(schema: string): Promise<unknown> {
    const strip = (text: string) =>
      text.split(`${schema}.`).join('').split(`"${schema}".`).join('');
    const columns = await rows(
      `SELECT table_name, column_name, data_type, is_nullable, column_default
         FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1, ordinal_position`,
      [schema],
    );
    const constraints = await rows(
      `SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 2`,
      [schema],
    );
    const indexes = await rows(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`,
      [schema],
    );
    const migrations = await rows(
      `SELECT id, "timestamp", name FROM "${schema}".migrations ORDER BY id`,
    );
    return JSON.parse(strip(JSON.stringify({ columns, constraints, indexes, migrations })));
  }
});
