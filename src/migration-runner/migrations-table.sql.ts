import type { DataSource } from 'typeorm';
import { integerLiteral, tableIdentifier, textLiteral } from '../connection/sql-literal.js';

/*
 * The statements the runner sends to TypeORM's migrations table, in one place. The table and its
 * columns are named and quoted as TypeORM names them (migrationsTableName, the driver's schema), and
 * the rows are the ones TypeORM's insertExecutedMigration writes: ("timestamp", "name"), the id
 * from the table's own sequence. `schema`, where a function takes it, is a tenant's (checked by
 * the caller): the table TypeORM would use with that schema set on the DataSource.
 */

/** The table's schema (a tenant's, else the driver's when it has one) and name, unquoted. */
function tableParts(dataSource: DataSource, schema?: string): string[] {
  const driverSchema = (dataSource.driver.options as { schema?: string }).schema;
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  return [schema ?? driverSchema, table].filter((part): part is string => Boolean(part));
}

function tablePath(dataSource: DataSource, schema?: string): string {
  return tableParts(dataSource, schema)
    .map((part) => dataSource.driver.escape(part))
    .join('.');
}

/**
 * The table TypeORM's migration executor creates with the postgres driver, 0.3 and 1.x alike: its
 * column types are the driver's fixed mapping (migrationId int as SERIAL, migrationTimestamp bigint,
 * migrationName varchar), and the primary key is named by the DataSource's naming strategy from
 * the same table name. Written out rather than built by TypeORM's createTable(): that goes through
 * its schema-building code, which a holder compiles on its first and only run, on the rollout's
 * critical path (docs/benchmarks.md). A test compares the catalog's definition with TypeORM's.
 */
export function createMigrationsTableSql(dataSource: DataSource, schema?: string): string {
  const escape = (name: string) => dataSource.driver.escape(name);
  const primaryKey = dataSource.namingStrategy.primaryKeyName(
    tableParts(dataSource, schema).join('.'),
    ['id'],
  );
  const [id, timestamp, name] = ['id', 'timestamp', 'name'].map(escape);
  return `CREATE TABLE ${tablePath(dataSource, schema)} (${id} SERIAL NOT NULL, ${timestamp} bigint NOT NULL, ${name} character varying NOT NULL, CONSTRAINT ${escape(primaryKey)} PRIMARY KEY (${id}))`;
}

/**
 * Whether the migrations table (`present`) and the history table (`history_present`, when the
 * module keeps one) exist, asked without an error a transaction would not survive (mode all reads
 * under the lock inside its one transaction).
 */
export function migrationsTableExistsSql(
  dataSource: DataSource,
  historyTable: string | false,
  schema?: string,
): string {
  const present = (path: string) => `pg_catalog.to_regclass(${textLiteral(path)}) IS NOT NULL`;
  const history = historyTable
    ? `, ${present(tableIdentifier(historyTable))} AS history_present`
    : '';
  return `SELECT ${present(tablePath(dataSource, schema))} AS present${history}`;
}

/** `SELECT name FROM <migrations table>`: the followers' lock-free read, and the holder's. */
export function appliedNamesSql(dataSource: DataSource, schema?: string): string {
  return `SELECT name FROM ${tablePath(dataSource, schema)}`;
}

/**
 * Names and timestamps of the applied migrations, what validation sets beside the code: one JSON
 * array of [name, timestamp] in one row (`rows`), cheaper to parse than a row per migration.
 */
export function appliedMigrationsSql(dataSource: DataSource): string {
  const [name, timestamp] = ['name', 'timestamp'].map((column) => dataSource.driver.escape(column));
  return `SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(${name}, ${timestamp})), '[]') AS rows FROM ${tablePath(dataSource)}`;
}

/**
 * One INSERT for the given migrations' rows, as a literal statement: it can then share a round trip
 * with the COMMIT after it, and one statement records a whole `all` run. Timestamps are checked
 * integers; names are quoted string literals (never identifiers or SQL).
 */
export function recordMigrationsSql(
  dataSource: DataSource,
  migrations: ReadonlyArray<{ timestamp: number; name: string }>,
  schema?: string,
): string {
  const column = (name: string) => dataSource.driver.escape(name);
  const rows = migrations.map(
    ({ timestamp, name }) => `(${integerLiteral(timestamp)}, ${textLiteral(name)})`,
  );
  return `INSERT INTO ${tablePath(dataSource, schema)} (${column('timestamp')}, ${column('name')}) VALUES ${rows.join(', ')}`;
}

/**
 * The applied names of several tenant schemas' migrations tables, each row with its schema: one
 * statement for a chunk of tenants (`migration-lock tenants status`). Every table must exist.
 */
export function appliedNamesBySchemaSql(
  dataSource: DataSource,
  schemas: readonly string[],
): string {
  return schemas
    .map(
      (schema) =>
        `SELECT ${textLiteral(schema)} AS schema, name FROM ${tablePath(dataSource, schema)}`,
    )
    .join(' UNION ALL ');
}
