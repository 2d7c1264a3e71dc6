import type { QueryRunner } from 'typeorm';
import { InvalidIndexError, type InvalidIndex } from '../errors/migration.errors.js';

/*
 * CREATE INDEX CONCURRENTLY (and REINDEX CONCURRENTLY) enters the index in the catalog before it
 * builds it: interrupted (a killed holder, a cancelled statement), it leaves an index marked
 * invalid that the planner never uses. Running the migration again then fails with "already
 * exists", or with IF NOT EXISTS silently keeps the invalid index. An index another session is
 * building right now is invalid too, and is left alone (pg_stat_progress_create_index lists it).
 * A tenant's run looks at its own schema only (`$1`): other tenants' builds run beside it, and a
 * build can be in the catalog a moment before that view lists it (seen on PostgreSQL 14).
 */
function invalidIndexesSql(inSchema: boolean): string {
  return `
  SELECT n.nspname AS schema, c.relname AS name, t.relname AS "table"
    FROM pg_catalog.pg_index i
    JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
    JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE NOT i.indisvalid
     AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg_toast%'
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)${inSchema ? '\n     AND n.nspname = $1' : ''}
   ORDER BY 1, 2`;
}

/**
 * Throws InvalidIndexError naming every invalid index no session is building, each with the
 * statement that repairs it; `migrationName`: the migration that was about to be recorded;
 * `schema`: only that schema's indexes (a tenant's).
 */
export async function assertNoInvalidIndexes(
  queryRunner: QueryRunner,
  migrationName?: string,
  schema?: string,
): Promise<void> {
  const rows = (await (schema === undefined
    ? queryRunner.query(invalidIndexesSql(false))
    : queryRunner.query(invalidIndexesSql(true), [schema]))) as Array<Omit<InvalidIndex, 'repair'>>;
  if (rows.length === 0) return;
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const indexes = rows.map((row) => ({
    ...row,
    repair: `DROP INDEX CONCURRENTLY IF EXISTS ${quote(row.schema)}.${quote(row.name)};`,
  }));
  throw new InvalidIndexError(indexes, migrationName);
}
