import type { DataSource } from 'typeorm';
import { integerLiteral, textLiteral } from '../connection/sql-literal.js';

/*
 * The statements the runner sends to TypeORM's migrations table, in one place. The table and its
 * columns are named and quoted as TypeORM names them (migrationsTableName, the driver's schema), and
 * the rows are the ones TypeORM's insertExecutedMigration writes: ("timestamp", "name"), the id
 * from the table's own sequence.
 */

function tablePath(dataSource: DataSource): string {
  const { schema } = dataSource.driver.options as { schema?: string };
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  return [schema, table]
    .filter((part): part is string => Boolean(part))
    .map((part) => dataSource.driver.escape(part))
    .join('.');
}

/**
 * Whether the migrations table exists, asked without an error a transaction would not survive
 * (mode all reads under the lock inside its one transaction).
 */
export function migrationsTableExistsSql(dataSource: DataSource): string {
  return `SELECT pg_catalog.to_regclass(${textLiteral(tablePath(dataSource))}) IS NOT NULL AS present`;
}

/** `SELECT name FROM <migrations table>`: the followers' lock-free read, and the holder's. */
export function appliedNamesSql(dataSource: DataSource): string {
  return `SELECT name FROM ${tablePath(dataSource)}`;
}

/**
 * One INSERT for the given migrations' rows, as a literal statement: it can then share a round trip
 * with the COMMIT after it, and one statement records a whole `all` run. Timestamps are checked
 * integers; names are quoted string literals (never identifiers or SQL).
 */
export function recordMigrationsSql(
  dataSource: DataSource,
  migrations: ReadonlyArray<{ timestamp: number; name: string }>,
): string {
  const column = (name: string) => dataSource.driver.escape(name);
  const rows = migrations.map(
    ({ timestamp, name }) => `(${integerLiteral(timestamp)}, ${textLiteral(name)})`,
  );
  return `INSERT INTO ${tablePath(dataSource)} (${column('timestamp')}, ${column('name')}) VALUES ${rows.join(', ')}`;
}
