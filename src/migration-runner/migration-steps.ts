import type { DataSource, MigrationExecutor, QueryRunner } from 'typeorm';
import type { PgClient, PostgresQueryRunner } from '../connection/lock-connection.js';
import { commitOn } from '../connection/transaction-state.js';
import { InvalidIndexError, MigrationFailedError } from '../errors/migration.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { codeMigrations, type CodeMigration } from './code-migrations.js';
import { assertNoInvalidIndexes } from './invalid-indexes.js';
import type { MigrationHistory } from './migration-history.js';
import type { MigrationTransactionMode } from './migration-runner.options.js';
import {
  appliedNamesSql,
  createMigrationsTableSql,
  migrationsTableExistsSql,
  recordMigrationsSql,
} from './migrations-table.sql.js';

type Migration = CodeMigration;

/** A migration that ran, and how long its up() took: what its records say. */
export interface AppliedMigration {
  readonly migration: Migration;
  readonly durationMs: number;
}

/** Whether a migration runs in its own transaction in a step-by-step mode, unless it says otherwise. */
const OWN_TRANSACTION_BY_DEFAULT: Record<Exclude<MigrationTransactionMode, 'all'>, boolean> = {
  each: true,
  none: false,
};

/**
 * TypeORM's executeMigration(), in its own steps. That method looks up the migrations table and the
 * typeorm_metadata table in information_schema before every migration: two catalog queries per
 * migration on the holder's critical path (their share of a run: docs/benchmarks.md).
 * The runner makes sure of the tables once per run and then, per migration, runs it and records it
 * with the rows TypeORM writes, with room between the two for its own checks. A record goes in the
 * same round trip as the COMMIT of its migration's transaction, and a whole `all` run is recorded
 * by one statement, cheaper than TypeORM's QueryBuilder insert per migration. The history's rows
 * (when the module keeps one) go in the same statement as the migrations table's: a crash leaves
 * both or neither.
 */
export class MigrationSteps {
  private readonly mode: MigrationTransactionMode;

  constructor(
    executor: MigrationExecutor,
    private readonly dataSource: DataSource,
    private readonly history: MigrationHistory,
  ) {
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
  async apply(queryRunner: PostgresQueryRunner, migration: Migration): Promise<AppliedMigration> {
    const { mode } = this;
    const ownTransaction =
      mode !== 'all' && (migration.instance?.transaction ?? OWN_TRANSACTION_BY_DEFAULT[mode]);
    try {
      if (ownTransaction) await queryRunner.startTransaction();
      const started = performance.now();
      await this.up(queryRunner, migration);
      const applied = { migration, durationMs: performance.now() - started };
      if (mode === 'all') return applied;
      // Outside a transaction (CREATE INDEX CONCURRENTLY) an index can be left invalid: never
      // record such a migration as applied. Inside one it cannot, so those pay nothing.
      if (!ownTransaction) await assertNoInvalidIndexes(queryRunner, migration.name);
      await this.record(queryRunner, [applied], ownTransaction ? migration.name : undefined);
      return applied;
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
  async pending(
    queryRunner: QueryRunner,
  ): Promise<{ pending: Migration[]; tableExists: boolean; historyExists: boolean }> {
    const [{ present, history_present }] = (await queryRunner.query(
      migrationsTableExistsSql(this.dataSource, this.history.table),
    )) as [{ present: boolean; history_present?: boolean }];
    const rows = present
      ? ((await queryRunner.query(appliedNamesSql(this.dataSource))) as Array<{ name: string }>)
      : [];
    const applied = new Set(rows.map((row) => row.name));
    const pending = codeMigrations(this.dataSource).filter(
      (migration) => !applied.has(migration.name),
    );
    return { pending, tableExists: present, historyExists: history_present ?? true };
  }

  /**
   * Once per run, before the first migration: the migrations table, the history table, and
   * typeorm_metadata if needed. The migrations table is made without
   * createMigrationsTableIfNotExist()'s information_schema lookup: pending() has just read, under
   * the lock, that it is absent. On a fresh database the lookup was the slowest statement of a
   * short run. The history table is made under a lock of its own (a baseline may be making it).
   */
  async prepareTables(
    queryRunner: QueryRunner,
    tables: { tableExists: boolean; historyExists: boolean },
  ): Promise<void> {
    const create = [
      ...(tables.tableExists ? [] : [createMigrationsTableSql(this.dataSource)]),
      ...(tables.historyExists ? [] : [this.history.ensureTableSql()]),
    ].filter((sql): sql is string => sql !== undefined);
    // One round trip; outside a transaction (each, none) it is one implicit transaction.
    if (create.length > 0) await queryRunner.query(create.join('; '));
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
   * Rows in the migrations table and the history for `applied`, in one statement. With `commitAs`
   * (the migration's name, for messages), the COMMIT of the open transaction goes in the same
   * round trip, and a COMMIT that PostgreSQL turned into ROLLBACK is thrown.
   */
  async record(
    queryRunner: PostgresQueryRunner,
    applied: readonly AppliedMigration[],
    commitAs?: string,
  ): Promise<void> {
    if (applied.length === 0) return;
    const history = await this.history.appliedRowsSql(applied);
    const rows = recordMigrationsSql(
      this.dataSource,
      applied.map(({ migration }) => migration),
    );
    const insert = history ? `${rows}; ${history}` : rows;
    const client = (await queryRunner.connect()) as PgClient;
    if (commitAs) await commitOn(client, queryRunner, commitAs, insert);
    else await client.query(insert);
  }
}
