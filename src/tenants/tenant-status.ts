import type { DataSource } from 'typeorm';
import type { LockSession } from '../errors/lock-session.js';
import type { CodeMigration } from '../migration-runner/code-migrations.js';
import { sqlState, UNDEFINED_TABLE } from '../errors/sql-state.js';
import { latestTenantFailuresSql } from '../history/history-table.sql.js';
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
  /**
   * Its newest failed attempt in the history table, shown while it is still not current (a
   * tenant that is current has none here, whatever failed before).
   */
  readonly lastFailure: TenantFailureRecord | null;
}

/** A tenant's failed attempt as the history table keeps it. */
export interface TenantFailureRecord {
  /** The migration that failed; absent when none was at fault (a missing schema, a lock timeout). */
  readonly migration?: string;
  readonly error: string;
  readonly code: string | null;
  readonly at: Date;
  /** application_name of the process that tried. */
  readonly applicationName: string;
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
  historyTable: string | false,
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
  const statuses = tables.map((row) => {
    const count = applied.get(row.schema) ?? 0;
    const pending = migrations.length - count;
    return {
      schema: row.schema,
      state: !row.present ? 'missing' : pending > 0 ? 'pending' : 'current',
      applied: count,
      pending,
      holder: holders.get(row.schema) ?? null,
    } as const;
  });
  // A failure is shown only beside a tenant that is still not current: only those are read.
  const notCurrent = statuses.filter((status) => status.state !== 'current');
  const failures = historyTable
    ? await lastFailures(
        dataSource,
        historyTable,
        notCurrent.map((status) => status.schema),
      )
    : new Map<string, TenantFailureRecord>();
  return statuses.map((status) => ({
    ...status,
    lastFailure: failures.get(status.schema) ?? null,
  }));
}

/** The newest failed attempt of each of `schemas`, from the history table (none yet: none). */
async function lastFailures(
  dataSource: DataSource,
  table: string,
  schemas: readonly string[],
): Promise<Map<string, TenantFailureRecord>> {
  if (schemas.length === 0) return new Map();
  const rows = (await dataSource
    .query(latestTenantFailuresSql(table), [schemas])
    .catch((error: unknown) => {
      if (sqlState(error) === UNDEFINED_TABLE) return [];
      throw error;
    })) as Array<{
    tenant: string;
    name: string;
    applied_at: Date;
    application_name: string;
    error_code: string | null;
    error_message: string;
  }>;
  return new Map(
    rows.map((row) => [
      row.tenant,
      {
        ...(row.name ? { migration: row.name } : {}),
        error: row.error_message,
        code: row.error_code,
        at: row.applied_at,
        applicationName: row.application_name,
      },
    ]),
  );
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
