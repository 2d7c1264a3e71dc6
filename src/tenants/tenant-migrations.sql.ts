import { textLiteral } from '../connection/sql-literal.js';
import { schemaIdentifier } from './tenant-schema.js';

/*
 * The statements of a tenant's run besides its migrations table's (migrations-table.sql.ts, with
 * the tenant's schema): whether the schema exists, making it, and the search path of the tenant's
 * transaction. The schema name is checked (checkTenantSchema) by schemaIdentifier itself.
 */

/** Whether the schema exists, asked without an error the tenant's transaction would not survive. */
export function schemaExistsSql(schema: string): string {
  schemaIdentifier(schema);
  return `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ${textLiteral(schema)}) AS present`;
}

export function createSchemaSql(schema: string): string {
  return `CREATE SCHEMA IF NOT EXISTS ${schemaIdentifier(schema)}`;
}

/**
 * Unqualified names in the tenant's migrations land in its schema, and shared objects (extensions,
 * shared tables) in public still resolve; SET LOCAL ends with the tenant's transaction, so a pooled
 * connection goes back to the pool as it came.
 */
export function tenantSearchPathSql(schema: string): string {
  return `SET LOCAL search_path = ${schemaIdentifier(schema)}, public`;
}

/**
 * Mode `each`: the search path of the session-level lock's own connection, for the tenant's
 * separate transactions; that connection goes back to the pool reset (DISCARD ALL).
 */
export function tenantSessionSearchPathSql(schema: string): string {
  return `SET search_path = ${schemaIdentifier(schema)}, public`;
}

/**
 * For every schema of `$1` (a text array): whether it exists, and whether its migrations table
 * (`$2`, the DataSource's migrationsTableName) does; what `tenants status` reads first.
 */
export const TENANT_TABLES_SQL = `SELECT s AS schema,
  EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = s) AS present,
  pg_catalog.to_regclass(pg_catalog.quote_ident(s) || '.' || pg_catalog.quote_ident($2)) IS NOT NULL AS has_table
  FROM pg_catalog.unnest($1::text[]) AS s`;

/** The schemas whose names match a LIKE pattern (`$1`), by name: `--schema-pattern 'tenant_%'`. */
export const SCHEMAS_LIKE_SQL = `SELECT nspname AS schema FROM pg_catalog.pg_namespace WHERE nspname LIKE $1 ORDER BY nspname`;
