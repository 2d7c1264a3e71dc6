import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { pgbouncerInstalled, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * `migration-lock tenants run` behind a real PgBouncer in transaction pooling (2 server
 * connections for every client): a tenant's lock is a transaction lock, so it holds there; a
 * tenant migration that opts out of transactions would need the session-level form, which a
 * transaction pooler hands to other clients: refused before anything runs.
 */
const runs = pgbouncerInstalled() || process.env.CI === 'true';
if (!runs)
  console.warn(
    'pgbouncer is not installed: the tenant pooler tests are skipped (apt-get install pgbouncer)',
  );
const CLI = 'dist/esm/cli/main.js';
const TENANTS = 40;
const ARGS = [
  'tenants',
  'run',
  '-d',
  'test/fixtures/history-data-source.mjs',
  '--tenant-migrations',
  'test/fixtures/tenant-migrations/*.mjs',
  '--schema-pattern',
  'tenant\\_%',
  '--json',
];

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

(runs ? describe : describe.skip)(
  'migration-lock tenants run behind PgBouncer (transaction pooling)',
  () => {
    let bouncer: PgBouncer;
    let db: TestDatabase;
    let observer: pg.Client;
    let dir: string;
    let effects: string;

    beforeAll(async () => {
      bouncer = await startPgBouncer(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'transaction', 2);
    });
    afterAll(() => bouncer.stop());

    beforeEach(async () => {
      db = await createTestDatabase('tenant_pooler');
      observer = await connectClient(db.url, 'observer');
      for (let i = 1; i <= TENANTS; i++)
        await observer.query(`CREATE SCHEMA tenant_${String(i).padStart(2, '0')}`);
      dir = mkdtempSync(join(tmpdir(), 'tenant-pooler-'));
      effects = join(dir, 'effects');
    });

    afterEach(async () => {
      await observer.end();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** `tenants run` through the pooler, as a process. */
    function throughPooler(env: Record<string, string> = {}): Promise<Exit> {
      const child = spawn(process.execPath, [CLI, ...ARGS], {
        env: {
          ...process.env,
          DATABASE_URL: bouncer.url(db.name),
          TENANT_EFFECTS: effects,
          ...env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      return new Promise((resolve) =>
        child.on('exit', (code) => resolve({ code, stdout, stderr })),
      );
    }

    it('3 processes at once: every tenant migration applied once', async () => {
      const exits = await Promise.all([1, 2, 3].map(() => throughPooler()));
      for (const exit of exits)
        expect({ code: exit.code, stderr: exit.stderr }).toEqual({ code: 0, stderr: '' });
      const lines = readFileSync(effects, 'utf8').split('\n').filter(Boolean);
      const once = new Set(lines.map((line) => line.split(' ').slice(0, 2).join(' ')));
      expect(lines).toHaveLength(TENANTS * 5);
      expect(once.size).toBe(TENANTS * 5);
      const migrated = exits.map(
        (exit) => (JSON.parse(exit.stdout) as { migrated: number }).migrated,
      );
      expect(migrated.reduce((sum, n) => sum + n, 0)).toBe(TENANTS);
      const { rows } = await observer.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'tenant\\_%' AND tablename = 'migrations'`,
      );
      expect(rows).toEqual([{ n: TENANTS }]);
    });

    it('a tenant migration that opts out of transactions: the session lock refused, exit 2, nothing applied', async () => {
      const exit = await throughPooler({ TENANT_NO_TRANSACTION: 'Files1700000000004' });
      expect(exit.code).toBe(2);
      expect(JSON.parse(exit.stdout)).toMatchObject({ code: 'SESSION_LOCK_THROUGH_POOLER' });
      expect(existsSync(effects)).toBe(false);
      const { rows } = await observer.query(
        `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname LIKE 'tenant\\_%'`,
      );
      expect(rows).toEqual([{ n: 0 }]);
    });
  },
);
