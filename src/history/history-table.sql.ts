import { integerLiteral, tableIdentifier, textLiteral } from '../connection/sql-literal.js';

/*
 * The statements of the module's migration history table (issue #33; not yet used by runs): one
 * row per migration applied, written in the migration's own transaction (a crash leaves neither),
 * one per failed attempt after its rollback, and one per migration baselined. Values are literals
 * (pg's escaping): a row can share the round trip of the migrations table's INSERT. The table name
 * is checked (checkTableName) before it gets here.
 */

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

export type HistoryStatus = 'applied' | 'failed' | 'baseline';

/** Made on first use, under a lock of its own (two replicas' CREATEs can collide). */
export function createHistoryTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${tableIdentifier(table)} (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('applied', 'failed', 'baseline')),
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

/** The rows for migrations applied (or baselined) by `writer`, in one INSERT. */
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

/** A failed attempt, written after its rollback: the error's code and message, never a URL. */
export function recordFailureSql(
  table: string,
  failure: { name: string; durationMs: number; code: string | undefined; message: string },
  writer: HistoryWriter,
): string {
  const code = failure.code === undefined ? 'NULL' : textLiteral(failure.code);
  return `INSERT INTO ${tableIdentifier(table)} (name, status, duration_ms, host, pid, module_version, mode, error_code, error_message) VALUES (${textLiteral(failure.name)}, 'failed', ${integerLiteral(Math.round(failure.durationMs))}, ${writerValues(writer)}, ${code}, ${textLiteral(failure.message)})`;
}

function writerValues(writer: HistoryWriter): string {
  return [
    textLiteral(writer.host),
    integerLiteral(writer.pid),
    textLiteral(writer.moduleVersion),
    textLiteral(writer.mode),
  ].join(', ');
}
