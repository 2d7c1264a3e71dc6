import { jest } from '@jest/globals';
import type pg from 'pg';
import { createTestDatabase } from '../../src/testing/index.js';
import { namesFor } from '../../src/testing/test-database-names.js';
import { spareAppOptions } from '../fixtures/testing-entry/spare-app.mjs';
import {
  connectClient,
  createTestDatabase as createBaseDatabase,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * Templates outlive the test databases cloned from them, on purpose: the next run with the same
 * migrations does not migrate again. A template whose namespace's database is gone (a CI job's
 * database, dropped after its run) can never be used again, and is dropped by the next build.
 */
describe('createTestDatabase templates', () => {
  let admin: pg.Client;
  const bases: TestDatabase[] = [];

  const base = async (label: string) => {
    const made = await createBaseDatabase(label);
    bases.push(made);
    return made;
  };
  const templateOf = async (database: TestDatabase) =>
    (await namesFor(spareAppOptions(database.url))).template;
  const exists = async (name: string) =>
    ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
  /** One test database of `database`'s namespace, made and dropped: its template stays. */
  const useOnce = async (database: TestDatabase) => {
    const made = await createTestDatabase({
      dataSourceOptions: spareAppOptions(database.url),
      prepareNext: false,
    });
    await made.drop();
  };

  beforeEach(async () => {
    admin = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!, 'observer');
  });

  afterEach(async () => {
    for (const database of bases.splice(0)) {
      const template = await templateOf(database);
      await admin.query(`ALTER DATABASE "${template}" IS_TEMPLATE false`).catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
      await database.drop();
    }
    await admin.end();
  });

  it("a new template drops those of databases that no longer exist, and keeps the others'", async () => {
    const gone = await base('tpl_gone');
    const kept = await base('tpl_kept');
    await useOnce(gone);
    await useOnce(kept);
    await gone.drop();
    // A template of its own is built for the next namespace; the build sweeps.
    await useOnce(await base('tpl_next'));
    expect(await exists(await templateOf(gone))).toBe(false);
    expect(await exists(await templateOf(kept))).toBe(true);
  });

  it('warns when the migrations option matches no file (a dist/ glob before the build)', async () => {
    const database = await base('tpl_empty');
    const warnings: string[] = [];
    const emitWarning = jest
      .spyOn(process, 'emitWarning')
      .mockImplementation((warning: string | Error) => void warnings.push(String(warning)));
    try {
      const made = await createTestDatabase({
        dataSourceOptions: {
          ...spareAppOptions(database.url),
          migrations: ['build/no-such-folder/*.js'],
        },
        prepareNext: false,
      });
      await made.drop();
    } finally {
      emitWarning.mockRestore();
    }
    expect(warnings.join('\n')).toContain(
      'The DataSource lists no migrations (its migrations option: "build/no-such-folder/*.js")',
    );
    const empty = (
      await namesFor({
        ...spareAppOptions(database.url),
        migrations: ['build/no-such-folder/*.js'],
      })
    ).template;
    await admin.query(`ALTER DATABASE "${empty}" IS_TEMPLATE false`).catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS "${empty}" WITH (FORCE)`);
  });
});
