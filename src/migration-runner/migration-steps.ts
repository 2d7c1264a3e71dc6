import type { DataSource, MigrationExecutor, QueryRunner } from 'typeorm';
import type { PgClient, PostgresQueryRunner } from '../connection/lock-connection.js';
import { commitOn } from '../connection/transaction-state.js';
import { InvalidIndexError, MigrationFailedError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { assertNoInvalidIndexes } from './invalid-indexes.js';
import type { MigrationTransactionMode } from './migration-runner.options.js';
import {
  appliedNamesSql,
  createMigrationsTableSql,
  migrationsTableExistsSql,
  recordMigrationsSql,
} from './migrations-table.sql.js';

type Migration = Awaited<ReturnType<MigrationExecutor['getPendingMigrations']>>[number];

/** Whether a migration runs in its own transaction in a step-by-step mode, unless it says otherwise. */
const OWN_TRANSACTION_BY_DEFAULT: Record<Exclude<MigrationTransactionMode, 'all'>, boolean> = {
  each: true,
  none: false,
};

/** Protected steps of TypeORM's MigrationExecutor (0.3 and 1.x alike). */
interface ExecutorSteps {
  /** The migrations in the code, checked (a timestamp in every name, no duplicate) and sorted. */
  getMigrations(): Migration[];
}

/**
 * TypeORM's executeMigration(), in its own steps. That method looks up the migrations table and the
 * typeorm_metadata table in information_schema before every migration: two catalog queries per
 * migration on the holder's critical path (their share of a run: docs/benchmarks.md).
 * The runner makes sure of the tables once per run and then, per migration, runs it and records it
 * with the rows TypeORM writes, with room between the two for its own checks. A record goes in the
 * same round trip as the COMMIT of its migration's transaction, and a whole `all` run is recorded
 * by one statement, cheaper than TypeORM's QueryBuilder insert per migration.
 */
export class MigrationSteps {
  private readonly steps: ExecutorSteps;
  private readonly mode: MigrationTransactionMode;

  constructor(
    executor: MigrationExecutor,
    private readonly dataSource: DataSource,
  ) {
    this.steps = executor as unknown as ExecutorSteps;
    this.mode = executor.transaction;
  }

  /** A migration that opts out of transactions cannot run inside the single `all` transaction. */
  refuseOptedOut(pending: readonly Migration[]): void {
    if (this.mode !== 'all') return;
    const optedOut = pending.find((migration) => migration.instance?.transaction === false);
    if (optedOut)
      throw new MigrationFailedError(
        optedOut.name,
        messages.transactionOverride(optedOut.name, this.mode),
      );
  }

  /**
   * One migration: in mode `all` inside the lock's transaction; in `each` / `none` in a transaction
   * of its own (committed with its record) unless it or the mode says otherwise. Any failure is
   * the migration's (MigrationFailedError), and what it began is rolled back.
   */
  async apply(queryRunner: PostgresQueryRunner, migration: Migration): Promise<void> {
    const { mode } = this;
    const ownTransaction =
      mode !== 'all' && (migration.instance?.transaction ?? OWN_TRANSACTION_BY_DEFAULT[mode]);
    try {
      if (ownTransaction) await queryRunner.startTransaction();
      await this.up(queryRunner, migration);
      if (mode === 'all') return;
      // Outside a transaction (CREATE INDEX CONCURRENTLY) an index can be left invalid: never
      // record such a migration as applied. Inside one it cannot, so those pay nothing.
      if (!ownTransaction) await assertNoInvalidIndexes(queryRunner, migration.name);
      await this.record(queryRunner, [migration], ownTransaction ? migration.name : undefined);
    } catch (error) {
      if (ownTransaction && queryRunner.isTransactionActive)
        await queryRunner.rollbackTransaction().catch(() => undefined);
      if (error instanceof InvalidIndexError) throw error;
      throw MigrationFailedError.create(migration.name, error);
    }
  }

  /**
   * The migrations not applied yet, read on the lock's connection with two plain queries (whether
   * the migrations table exists, then its names) instead of TypeORM's information_schema lookup and
   * QueryBuilder select; `tableExists` tells prepareTables() whether it has anything to do.
   */
  async pending(queryRunner: QueryRunner): Promise<{ pending: Migration[]; tableExists: boolean }> {
    const [{ present }] = (await queryRunner.query(migrationsTableExistsSql(this.dataSource))) as [
      { present: boolean },
    ];
    const rows = present
      ? ((await queryRunner.query(appliedNamesSql(this.dataSource))) as Array<{ name: string }>)
      : [];
    const applied = new Set(rows.map((row) => row.name));
    const pending = this.steps.getMigrations().filter((migration) => !applied.has(migration.name));
    return { pending, tableExists: present };
  }

  /**
   * Once per run, before the first migration: the migrations table, and typeorm_metadata if needed.
   * The table is made without createMigrationsTableIfNotExist()'s information_schema lookup:
   * pending() has just read, under the lock, that it is absent. On a fresh database the lookup was
   * the slowest statement of a short run.
   */
  async prepareTables(queryRunner: QueryRunner, tableExists: boolean): Promise<void> {
    if (!tableExists) await queryRunner.query(createMigrationsTableSql(this.dataSource));
    const schemaBuilder = this.dataSource.driver.createSchemaBuilder() as {
      createMetadataTableIfNecessary?: (queryRunner: QueryRunner) => Promise<void>;
    };
    await schemaBuilder.createMetadataTableIfNecessary?.(queryRunner);
  }

  /** The migration's up(), between the driver's before/after hooks. */
  private async up(queryRunner: QueryRunner, migration: Migration): Promise<void> {
    await queryRunner.beforeMigration();
    await migration.instance!.up(queryRunner);
    await queryRunner.afterMigration();
  }

  /**
   * Rows in the migrations table for `migrations`. With `commitAs` (the migration's name, for
   * messages), the COMMIT of the open transaction goes in the same round trip, and a COMMIT that
   * PostgreSQL turned into ROLLBACK is thrown.
   */
  async record(
    queryRunner: PostgresQueryRunner,
    migrations: readonly Migration[],
    commitAs?: string,
  ): Promise<void> {
    if (migrations.length === 0) return;
    const insert = recordMigrationsSql(this.dataSource, migrations);
    const client = (await queryRunner.connect()) as PgClient;
    if (commitAs) await commitOn(client, queryRunner, commitAs, insert);
    else await client.query(insert);
  }
}
