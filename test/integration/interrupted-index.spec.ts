import type pg from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { InvalidIndexError } from '../../src/errors/migration.errors.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { rowsAppear } from '../support/observe.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * A CREATE INDEX CONCURRENTLY cut off midway (its holder killed) leaves an invalid index. Before,
 * the survivors crash-looped on "already exists", or with IF NOT EXISTS recorded the migration as
 * applied while the index stayed invalid. The invalid index here is made for real: a CIC that waits
 * for an old snapshot, then its backend terminated, as a crashed holder's would be.
 */
class CreateItems1700000000001 implements MigrationInterface {
  name = 'CreateItems1700000000001';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE items (id int PRIMARY KEY, kind text NOT NULL)');
    await queryRunner.query(`INSERT INTO items VALUES (1, 'a'), (2, 'a'), (3, 'b')`);
  }
  async down(): Promise<void> {}
}

class IndexItemsByKind1700000000002 implements MigrationInterface {
  name = 'IndexItemsByKind1700000000002';
  transaction = false as const;
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX CONCURRENTLY items_kind_idx ON items (kind)');
  }
  async down(): Promise<void> {}
}

class IndexItemsByKindIfNotExists1700000000002 implements MigrationInterface {
  name = 'IndexItemsByKind1700000000002';
  transaction = false as const;
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS items_kind_idx ON items (kind)',
    );
  }
  async down(): Promise<void> {}
}

/** Swallows the failure of its unique index (kind has duplicates): the index is left invalid. */
class SwallowedFailure1700000000003 implements MigrationInterface {
  name = 'SwallowedFailure1700000000003';
  transaction = false as const;
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner
      .query('CREATE UNIQUE INDEX CONCURRENTLY items_kind_unique ON items (kind)')
      .catch(() => undefined);
  }
  async down(): Promise<void> {}
}

class CreateNotes1700000000004 implements MigrationInterface {
  name = 'CreateNotes1700000000004';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE notes (body text)');
  }
  async down(): Promise<void> {}
}

const REPAIR = 'DROP INDEX CONCURRENTLY IF EXISTS "public"."items_kind_idx";';

describe('an interrupted CREATE INDEX CONCURRENTLY', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];

  async function run(migrations: Function[]) {
    const dataSource = await openDataSource(db.url, { migrations });
    dataSources.push(dataSource);
    return new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
      transaction: 'each',
    }).run();
  }

  const recorded = async () =>
    (await observer.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows.map(
      (row) => row.name,
    );
  const indexValid = async (name: string) =>
    (
      await observer.query<{ valid: boolean }>(
        `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass($1)`,
        [name],
      )
    ).rows[0]?.valid;

  /**
   * A CIC of items_kind_idx waiting for an old snapshot (the index is in the catalog, invalid);
   * `interrupt()` terminates its backend, as a holder killed mid-statement leaves it.
   */
  async function cicInProgress() {
    const snapshot = await connectClient(db.url, 'old-snapshot');
    await snapshot.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await snapshot.query('SELECT count(*) FROM items');
    const builder = await connectClient(db.url, 'index-builder');
    const building = builder
      .query('CREATE INDEX CONCURRENTLY items_kind_idx ON items (kind)')
      .catch((error: unknown) => error);
    const [{ pid }] = await rowsAppear<{ pid: number }>(
      observer,
      'the CIC waiting for the old snapshot',
      `SELECT pid FROM pg_stat_progress_create_index WHERE phase LIKE 'waiting for%'`,
      [],
      1,
    );
    return {
      interrupt: async () => {
        await observer.query('SELECT pg_terminate_backend($1)', [pid]);
        await building;
        await snapshot.end();
        await builder.end().catch(() => undefined);
      },
      finish: async () => {
        await snapshot.query('COMMIT');
        await building;
        await Promise.all([snapshot.end(), builder.end()]);
      },
    };
  }

  beforeEach(async () => {
    db = await createTestDatabase('interrupted_index');
    observer = await connectClient(db.url, 'observer');
    await run([CreateItems1700000000001]);
  });

  afterEach(async () => {
    await Promise.all(dataSources.splice(0).map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  it.each([
    ['CREATE INDEX CONCURRENTLY', IndexItemsByKind1700000000002],
    ['CREATE INDEX CONCURRENTLY IF NOT EXISTS', IndexItemsByKindIfNotExists1700000000002],
  ])(
    'survivors re-running %s fail with InvalidIndexError naming the index and its repair; nothing is recorded',
    async (_statement, migration) => {
      await (await cicInProgress()).interrupt();
      expect(await indexValid('items_kind_idx')).toBe(false);

      const error = (await run([CreateItems1700000000001, migration]).catch(
        (e) => e,
      )) as InvalidIndexError;
      expect(error).toBeInstanceOf(InvalidIndexError);
      expect(error.indexes).toEqual([
        { schema: 'public', name: 'items_kind_idx', table: 'items', repair: REPAIR },
      ]);
      expect(error.message).toContain(REPAIR);
      expect(await recorded()).toEqual(['CreateItems1700000000001']);

      // The repair the error names, then the same run builds a valid index and records it.
      await observer.query(REPAIR);
      expect((await run([CreateItems1700000000001, migration])).applied).toEqual([
        'IndexItemsByKind1700000000002',
      ]);
      expect(await indexValid('items_kind_idx')).toBe(true);
    },
  );

  it('a migration that swallowed its failed CIC is not recorded as applied', async () => {
    const error = (await run([CreateItems1700000000001, SwallowedFailure1700000000003]).catch(
      (e) => e,
    )) as InvalidIndexError;
    expect(error).toBeInstanceOf(InvalidIndexError);
    expect(error.migrationName).toBe('SwallowedFailure1700000000003');
    expect(error.indexes.map((index) => index.name)).toEqual(['items_kind_unique']);
    expect(await recorded()).toEqual(['CreateItems1700000000001']);
  });

  it('an index another session is building right now is left alone', async () => {
    const cic = await cicInProgress();
    try {
      const result = await run([CreateItems1700000000001, CreateNotes1700000000004]);
      expect(result.applied).toEqual(['CreateNotes1700000000004']);
    } finally {
      await cic.finish();
    }
    expect(await indexValid('items_kind_idx')).toBe(true);
  });
});
