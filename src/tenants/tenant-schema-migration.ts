import type { DataSource, QueryRunner } from 'typeorm';
import type { PgClient, PostgresQueryRunner } from '../connection/lock-connection.js';
import { commitOn } from '../connection/transaction-state.js';
import { MigrationFailedError } from '../errors/migration.errors.js';
import type { CodeMigration } from '../migration-runner/code-migrations.js';
import { assertNoInvalidIndexes } from '../migration-runner/invalid-indexes.js';
import {
  appliedNamesSql,
  createMigrationsTableSql,
  migrationsTableExistsSql,
  recordMigrationsSql,
} from '../migration-runner/migrations-table.sql.js';
import {
  createSchemaSql,
  schemaExistsSql,
  tenantSearchPathSql,
  tenantSessionSearchPathSql,
} from './tenant-migrations.sql.js';

/** One tenant's work, as the service hands it over once it holds the tenant's lock. */
export interface TenantWork {
  readonly dataSource: DataSource;
  readonly schema: string;
  readonly migrations: readonly CodeMigration[];
  readonly createSchema: boolean;
  /** Migrations are pending: said before the first runs (the event `tenantStarted`). */
  readonly started: (pending: number) => void;
}

/**
 * How a tenant is migrated: `all` (one transaction: lock, search path, migrations and their rows
 * commit together) unless a tenant migration opts out of transactions (`transaction = false`, e.g.
 * CREATE INDEX CONCURRENTLY), which cannot run inside one: then `each`, under the session-level
 * lock, each migration in a transaction of its own committed with its row, as the shared `each`.
 */
export function tenantMode(migrations: readonly CodeMigration[]): 'all' | 'each' {
  return migrations.some((migration) => migration.instance?.transaction === false) ? 'each' : 'all';
}

/** Mode `all`: inside the tenant's transaction, under its transaction-level lock. */
export async function migrateTenantInTransaction(
  queryRunner: QueryRunner,
  work: TenantWork,
): Promise<string[]> {
  await ensureSchema(queryRunner, work);
  await queryRunner.query(tenantSearchPathSql(work.schema));
  const { pending, tableExists } = await pendingOf(queryRunner, work);
  if (pending.length === 0) return [];
  work.started(pending.length);
  if (!tableExists) await queryRunner.query(createMigrationsTableSql(work.dataSource, work.schema));
  for (const migration of pending) await up(queryRunner, migration);
  await queryRunner.query(recordMigrationsSql(work.dataSource, pending, work.schema));
  return pending.map((migration) => migration.name);
}

/**
 * Mode `each`: on the session-level lock's own connection, outside a transaction. The search path
 * is set for the session: that connection goes back to the pool reset (DISCARD ALL).
 */
export async function migrateTenantStepByStep(
  queryRunner: PostgresQueryRunner,
  work: TenantWork,
): Promise<string[]> {
  const { dataSource, schema } = work;
  await ensureSchema(queryRunner, work);
  await queryRunner.query(tenantSessionSearchPathSql(schema));
  const { pending, tableExists } = await pendingOf(queryRunner, work);
  if (pending.length === 0) return [];
  work.started(pending.length);
  if (!tableExists) await queryRunner.query(createMigrationsTableSql(dataSource, schema));
  const client = (await queryRunner.connect()) as PgClient;
  const applied: string[] = [];
  for (const migration of pending) {
    const own = migration.instance?.transaction !== false;
    try {
      if (own) await queryRunner.startTransaction();
      await up(queryRunner, migration);
      if (!own) await assertNoInvalidIndexes(queryRunner, migration.name, schema);
      const row = recordMigrationsSql(dataSource, [migration], schema);
      if (own) await commitOn(client, queryRunner, migration.name, row);
      else await client.query(row);
    } catch (error) {
      if (own && queryRunner.isTransactionActive)
        await queryRunner.rollbackTransaction().catch(() => undefined);
      throw error instanceof MigrationFailedError
        ? error
        : MigrationFailedError.create(migration.name, error);
    }
    applied.push(migration.name);
  }
  return applied;
}

/** A listed schema that does not exist fails the tenant, unless it may be made. */
async function ensureSchema(queryRunner: QueryRunner, work: TenantWork): Promise<void> {
  const [{ present }] = (await queryRunner.query(schemaExistsSql(work.schema))) as [
    { present: boolean },
  ];
  if (present) return;
  if (!work.createSchema)
    throw new Error(
      `schema "${work.schema}" does not exist (create it first, or set tenants.createSchemas: true)`,
    );
  await queryRunner.query(createSchemaSql(work.schema));
}

/** The tenant's own migrations table (in its schema) read: what is not applied there yet. */
async function pendingOf(
  queryRunner: QueryRunner,
  work: TenantWork,
): Promise<{ pending: CodeMigration[]; tableExists: boolean }> {
  const [{ present }] = (await queryRunner.query(
    migrationsTableExistsSql(work.dataSource, false, work.schema),
  )) as [{ present: boolean }];
  const rows = present
    ? ((await queryRunner.query(appliedNamesSql(work.dataSource, work.schema))) as Array<{
        name: string;
      }>)
    : [];
  const applied = new Set(rows.map((row) => row.name));
  return {
    pending: work.migrations.filter((migration) => !applied.has(migration.name)),
    tableExists: present,
  };
}

/** The migration's up() between the driver's hooks; any failure is the migration's. */
async function up(queryRunner: QueryRunner, migration: CodeMigration): Promise<void> {
  try {
    await queryRunner.beforeMigration();
    await migration.instance!.up(queryRunner);
    await queryRunner.afterMigration();
  } catch (error) {
    throw MigrationFailedError.create(migration.name, error);
  }
}
