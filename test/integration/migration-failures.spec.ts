import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { MigrationFailedError } from '../../src/errors/migration.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { referenceMigrations } from '../support/migration-fixtures.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * Migrations that fail because of the database, not their code: the error must say what it is
 * (the old hint, "fix the migration", sent people to the wrong place).
 */
describe('a migration that fails because of the database it runs on', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];

  async function run(options: { schema?: string } = {}) {
    const dataSource = await openDataSource(db.url, {
      migrations: referenceMigrations,
      ...options,
    });
    dataSources.push(dataSource);
    const runner = new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
    });
    return (await runner.run().catch((error: unknown) => error)) as MigrationFailedError;
  }

  beforeEach(async () => {
    db = await createTestDatabase('migration_failures');
    observer = await connectClient(db.url, 'observer');
  });

  afterEach(async () => {
    await Promise.all(dataSources.splice(0).map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  it('a read-only database (a standby, default_transaction_read_only) says so, not "fix the migration"', async () => {
    await observer.query(`ALTER DATABASE "${db.name}" SET default_transaction_read_only = on`);
    const error = await run();
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(error.message).toMatch(/not writable here: a hot standby.*primary/);
    expect(error.message).not.toContain('Fix the migration');
  });

  it('a missing schema says to create it', async () => {
    const error = await run({ schema: 'not_there' });
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(error.message).toMatch(/schema it uses does not exist/);
  });
});
