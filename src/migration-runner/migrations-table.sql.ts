import type { DataSource } from 'typeorm';

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
  return `SELECT to_regclass(${text(tablePath(dataSource))}) IS NOT NULL AS present`;
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
  const rows = migrations.map(({ timestamp, name }) => `(${bigint(timestamp)}, ${text(name)})`);
  return `INSERT INTO ${tablePath(dataSource)} (${column('timestamp')}, ${column('name')}) VALUES ${rows.join(', ')}`;
}

function bigint(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`not a migration timestamp: ${value}`);
  return String(value);
}

/** A string literal valid whatever standard_conforming_strings says; NUL cannot be stored in text. */
function text(value: string): string {
  if (value.includes('\0')) throw new TypeError('a migration name cannot contain NUL');
  const escaped = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${escaped.replace(/\\/g, '\\\\')}'` : `'${escaped}'`;
}
