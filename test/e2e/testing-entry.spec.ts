import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { pollUntil } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

const run = promisify(execFile);

/*
 * nestjs-migration-lock/testing as an e2e suite uses it: 4 test files on 2 Jest workers against
 * one server (test/fixtures/testing-entry). The base database is fresh, so its template is new:
 * the migrations must run exactly once for all four files (a side effect outside the database
 * counts them), each file must get a database of its own (a clone, or a spare a worker cloned
 * ahead), and none may be left behind, spares included, even by a file that forgets drop().
 */
describe('createTestDatabase (nestjs-migration-lock/testing) in a Jest suite', () => {
  let base: TestDatabase;
  let observer: pg.Client;

  beforeEach(async () => {
    base = await createTestDatabase('testing_entry');
    observer = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'observer');
  });

  afterEach(async () => {
    await observer.end();
    await base.drop();
  });

  it('migrates a template once and gives each of 4 files on 2 workers its own database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testing-entry-'));
    const sideEffects = join(dir, 'side-effects.log');
    const databases = join(dir, 'databases.log');
    writeFileSync(sideEffects, '');
    writeFileSync(databases, '');
    // The gate holds the first build open until a second worker waits for the template.
    const gate = await connectClient(base.url, 'gate');
    await gate.query('SELECT pg_advisory_lock(4242)');
    const suite = run(
      process.execPath,
      ['node_modules/jest/bin/jest.js', '--config', 'test/fixtures/testing-entry/jest.config.mjs'],
      {
        env: {
          ...process.env,
          NODE_OPTIONS: '--experimental-vm-modules',
          DATABASE_URL: base.url,
          SIDE_EFFECT_FILE: sideEffects,
          DB_LOG: databases,
          GATE_URL: base.url,
        },
      },
    );
    // In the base database: the builder at the gate, and the other worker waiting for the template.
    await pollUntil(async () => {
      const { rows } = await gate.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return rows[0].n >= 2 ? true : undefined;
    }, 'a worker at the gate and one waiting for the template');
    await gate.end();
    await suite;
    expect(readFileSync(sideEffects, 'utf8').trim().split('\n')).toEqual(['migrated']);
    const names = readFileSync(databases, 'utf8').trim().split('\n');
    expect(new Set(names).size).toBe(4);
    // Dropped by three files, and by the cleanup after its worker for the fourth (which forgets
    // drop()); the spares the workers cloned ahead and nobody claimed go the same way. Only the
    // template stays, for the next run, marked complete (this test's own goes now).
    const namespace = names[0].slice(0, 'mlt_'.length + 8);
    await pollUntil(async () => {
      const { rows } = await observer.query(
        'SELECT datname FROM pg_database WHERE datname LIKE $1 AND NOT datistemplate',
        [`${namespace}\\_%`],
      );
      return rows.length ? undefined : true;
    }, 'no test database or spare of the suite left');
    const templates = await observer.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname LIKE $1 AND datistemplate',
      [`${namespace}\\_t\\_%`],
    );
    expect(templates.rowCount).toBe(1);
    for (const { datname } of templates.rows) {
      await observer.query(`ALTER DATABASE "${datname}" IS_TEMPLATE false`);
      await observer.query(`DROP DATABASE "${datname}"`);
    }
  });
});
