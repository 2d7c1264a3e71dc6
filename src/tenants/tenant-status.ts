import type { DataSource } from 'typeorm';
import type { LockSession } from '../errors/lock-session.js';
import type { CodeMigration } from '../migration-runner/code-migrations.js';
import { appliedNamesBySchemaSql } from '../migration-runner/migrations-table.sql.js';
import { readAllAdvisoryLocks } from '../status/lock-status.js';
import { tenantLockName } from './tenant-lock-key.js';
import { TENANT_TABLES_SQL } from './tenant-migrations.sql.js';

/** Where one tenant schema stands, as `migration-lock tenants status` lists it. */
export interface TenantStatus {
  readonly schema: string;
  /** `missing`: the schema does not exist (a run fails it unless createSchemas). */
  readonly state: 'current' | 'pending' | 'missing';
  readonly applied: number;
  readonly pending: number;
  /** The session migrating it now (its tenant lock's holder), if any. */
  readonly holder: LockSession | null;
}

/** Tenant tables read per statement: one UNION ALL of this many SELECTs. */
const CHUNK = 500;

/**
 * Every listed tenant's applied and pending counts and current holder: a catalog query for all,
 * one statement per chunk of tenants for their tables, and pg_locks once; no tenant lock taken.
 */
export async function readTenantStatus(
  dataSource: DataSource,
  lock: { readonly id: string; readonly type: string },
  schemas: readonly string[],
  migrations: readonly CodeMigration[],
): Promise<TenantStatus[]> {
  const table = dataSource.options.migrationsTableName ?? 'migrations';
  const tables = (await dataSource.query(TENANT_TABLES_SQL, [schemas, table])) as Array<{
    schema: string;
    present: boolean;
    has_table: boolean;
  }>;
  const withTable = tables.filter((row) => row.has_table).map((row) => row.schema);
  const code = new Set(migrations.map((migration) => migration.name));
  const applied = new Map<string, number>();
  for (let start = 0; start < withTable.length; start += CHUNK) {
    const chunk = withTable.slice(start, start + CHUNK);
    const rows = (await dataSource.query(appliedNamesBySchemaSql(dataSource, chunk))) as Array<{
      schema: string;
      name: string;
    }>;
    for (const row of rows)
      if (code.has(row.name)) applied.set(row.schema, (applied.get(row.schema) ?? 0) + 1);
  }
  const holders = await tenantHolders(dataSource, lock, schemas);
  return tables.map((row) => {
    const count = applied.get(row.schema) ?? 0;
    const pending = migrations.length - count;
    return {
      schema: row.schema,
      state: !row.present ? 'missing' : pending > 0 ? 'pending' : 'current',
      applied: count,
      pending,
      holder: holders.get(row.schema) ?? null,
    };
  });
}

/** The holder of each tenant lock held now, by schema (tenant-lock-key.ts names the keys). */
async function tenantHolders(
  dataSource: DataSource,
  lock: { readonly id: string; readonly type: string },
  schemas: readonly string[],
): Promise<Map<string, LockSession>> {
  const names = schemas.map((schema) => tenantLockName(lock.id, lock.type, schema));
  // readAllAdvisoryLocks names a known key `id/type`.
  const bySchema = new Map(names.map(([id, type], i) => [`${id}/${type}`, schemas[i]]));
  const locks = await readAllAdvisoryLocks(dataSource, names);
  const holders = new Map<string, LockSession>();
  for (const entry of locks) {
    const schema = entry.name === null ? undefined : bySchema.get(entry.name);
    if (schema && entry.granted) {
      const { name: _name, key: _key, granted: _granted, ...session } = entry;
      holders.set(schema, session);
    }
  }
  return holders;
}
