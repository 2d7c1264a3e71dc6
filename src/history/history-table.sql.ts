import { integerLiteral, tableIdentifier, textLiteral } from '../connection/sql-literal.js';
import { advisoryLockKey } from '../lock/lock-key.js';

/*
 * The statements of the module's migration history table: one row per migration applied, written
 * in the migration's own transaction (a crash leaves neither), one per failed attempt after its
 * rollback, one per migration baselined and one per revert. A tenant schema's failed attempts
 * (issue #32) are rows too, with `tenant` set; every other row has it null, and every read of the
 * shared history leaves tenant rows out. Values are literals (pg's escaping):
 * a row can share the round trip of the migrations table's INSERT. The table name is checked
 * (checkTableName) before it gets here.
 */

/** The type of the lock (its id is the table's name) under which the table is made and baselined. */
export const HISTORY_TABLE_LOCK_TYPE = 'MigrationLockHistoryTable';

/** What every row says of who wrote it. */
export interface HistoryWriter {
  /** The client's host name and process id: which replica. */
  readonly host: string;
  readonly pid: number;
  readonly moduleVersion: string;
  /** The transaction mode of the run: all, each or none. */
  readonly mode: string;
}

/** One migration applied (or baselined): its checksum, null when it could not be captured. */
export interface HistoryRow {
  readonly name: string;
  readonly checksum: string | null;
  readonly durationMs: number;
}

export type HistoryStatus = 'applied' | 'failed' | 'baseline' | 'reverted';

/**
 * The transaction-level lock of the table itself: two replicas' CREATE TABLE IF NOT EXISTS can
 * collide, and two baselines would each write the same rows. Taken inside a transaction (or as
 * the first statement of a multi-statement query, which is one), held to its end.
 */
export function historyTableLockSql(table: string): string {
  const [high, low] = advisoryLockKey(table, HISTORY_TABLE_LOCK_TYPE);
  return `SELECT pg_catalog.pg_advisory_xact_lock(${high}, ${low})`;
}

/** The table made on first use, under its lock: one round trip, inside a transaction or not. */
export function ensureHistoryTableSql(table: string): string {
  return `${historyTableLockSql(table)}; ${createHistoryTableSql(table)}`;
}

/** `CREATE TABLE IF NOT EXISTS` of the history table (take its lock first: ensureHistoryTableSql). */
export function createHistoryTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${tableIdentifier(table)} (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  tenant text,
  status text NOT NULL CHECK (status IN ('applied', 'failed', 'baseline', 'reverted')),
  checksum text,
  applied_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  duration_ms integer,
  application_name text NOT NULL DEFAULT pg_catalog.current_setting('application_name'),
  host text NOT NULL,
  pid integer NOT NULL,
  module_version text NOT NULL,
  mode text NOT NULL,
  error_code text,
  error_message text
)`;
}

/** Whether the table exists (read without an error, which a transaction would not survive). */
export function historyTableExistsSql(table: string): string {
  return `SELECT pg_catalog.to_regclass(${textLiteral(tableIdentifier(table))}) IS NOT NULL AS present`;
}

/**
 * What validation compares: every row but failed attempts, oldest first, as one JSON array of
 * [name, status, checksum] (the reader keeps each migration's last). One row to parse instead of
 * one per migration, and no sort by name on the server.
 */
export function recordedChecksumsSql(table: string): string {
  return `SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(name, status, checksum) ORDER BY id), '[]') AS rows
  FROM ${tableIdentifier(table)} WHERE status <> 'failed' AND tenant IS NULL`;
}

/** Per migration, its latest row other than a failed attempt: what the history says of it now. */
export function latestRecordsSql(table: string): string {
  return `SELECT DISTINCT ON (name) name, status, checksum, applied_at, duration_ms, application_name, host, pid, module_version, mode
  FROM ${tableIdentifier(table)} WHERE status <> 'failed' AND tenant IS NULL ORDER BY name, id DESC`;
}

/** The newest failed attempts, at most `limit`. */
export function failedAttemptsSql(table: string, limit: number): string {
  return `SELECT name, applied_at, duration_ms, application_name, host, pid, module_version, mode, error_code, error_message
  FROM ${tableIdentifier(table)} WHERE status = 'failed' AND tenant IS NULL ORDER BY id DESC LIMIT ${integerLiteral(limit)}`;
}

/** The rows for migrations applied, baselined or reverted by `writer`, in one INSERT. */
export function recordHistorySql(
  table: string,
  status: Exclude<HistoryStatus, 'failed'>,
  rows: readonly HistoryRow[],
  writer: HistoryWriter,
): string {
  const values = rows.map(
    (row) =>
      `(${textLiteral(row.name)}, '${status}', ${row.checksum === null ? 'NULL' : textLiteral(row.checksum)}, ${integerLiteral(Math.round(row.durationMs))}, ${writerValues(writer)})`,
  );
  return `INSERT INTO ${tableIdentifier(table)} (name, status, checksum, duration_ms, host, pid, module_version, mode) VALUES ${values.join(', ')}`;
}

/**
 * Baseline rows for migrations the migrations table lists and the history does not (applied
 * before the module kept history, or by plain TypeORM): only those whose latest row is still
 * absent or a revert when this runs, so a second replica's baseline writes nothing. Run under the
 * table's lock.
 */
export function baselineSql(
  table: string,
  rows: readonly HistoryRow[],
  writer: HistoryWriter,
): string {
  const t = tableIdentifier(table);
  const values = rows.map(
    (row) =>
      `(${textLiteral(row.name)}, ${row.checksum === null ? 'NULL::text' : textLiteral(row.checksum)})`,
  );
  return `INSERT INTO ${t} (name, status, checksum, duration_ms, host, pid, module_version, mode)
SELECT v.name, 'baseline', v.checksum, 0, ${writerValues(writer)}
  FROM (VALUES ${values.join(', ')}) AS v (name, checksum)
 WHERE COALESCE((SELECT h.status FROM ${t} h WHERE h.name = v.name AND h.status <> 'failed' AND h.tenant IS NULL ORDER BY h.id DESC LIMIT 1), 'reverted') = 'reverted'`;
}

/**
 * A failed attempt, written after its rollback: the error's code and message, never a URL; with
 * `tenant`, a tenant schema's (`name` is then its failing migration, or empty when none was).
 */
export function recordFailureSql(
  table: string,
  failure: {
    name: string;
    durationMs: number;
    code: string | undefined;
    message: string;
    tenant?: string;
  },
  writer: HistoryWriter,
): string {
  const code = failure.code === undefined ? 'NULL' : textLiteral(failure.code);
  const tenant = failure.tenant === undefined ? 'NULL' : textLiteral(failure.tenant);
  return `INSERT INTO ${tableIdentifier(table)} (name, tenant, status, duration_ms, host, pid, module_version, mode, error_code, error_message) VALUES (${textLiteral(failure.name)}, ${tenant}, 'failed', ${integerLiteral(Math.round(failure.durationMs))}, ${writerValues(writer)}, ${code}, ${textLiteral(failure.message)})`;
}

/**
 * Each tenant's newest failed attempt, for the tenant schemas of `$1` (a text array): what
 * `tenants status` shows beside a tenant that is still pending.
 */
export function latestTenantFailuresSql(table: string): string {
  return `SELECT DISTINCT ON (tenant) tenant, name, applied_at, application_name, error_code, error_message
  FROM ${tableIdentifier(table)} WHERE status = 'failed' AND tenant = ANY($1::text[]) ORDER BY tenant, id DESC`;
}

function writerValues(writer: HistoryWriter): string {
  return [
    textLiteral(writer.host),
    integerLiteral(writer.pid),
    textLiteral(writer.moduleVersion),
    textLiteral(writer.mode),
  ].join(', ');
}
