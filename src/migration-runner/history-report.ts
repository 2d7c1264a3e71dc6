import type { DataSource } from 'typeorm';
import { onPooledClient } from '../connection/lock-connection.js';
import type { DriftFinding } from '../history/drift.js';
import {
  failedAttemptsSql,
  latestRecordsSql,
  type HistoryStatus,
} from '../history/history-table.sql.js';
import type { MigrationHistory } from './migration-history.js';
import { rowsOrNone } from './missing-table-reads.js';

/*
 * `history()`: the applied migrations, newest first, each with who applied it, when, how long and
 * whether the code still matches; failed attempts apart.
 */

/** A migration's latest row other than a failed attempt, every column (history()). */
interface RecordRow {
  name: string;
  status: Exclude<HistoryStatus, 'failed'>;
  checksum: string | null;
  applied_at: Date;
  duration_ms: number | null;
  application_name: string;
  host: string;
  pid: number;
  module_version: string;
  mode: string;
}

/** How an applied migration's recorded checksum compares with the code's. */
export type ChecksumStatus = 'ok' | 'changed' | 'unverifiable' | 'missing' | 'unrecorded';

/** One applied migration in `history()`: who applied it, when, and whether the code still matches. */
export interface HistoryEntry {
  readonly name: string;
  /** `applied` by this module, `baseline` (applied before it kept history), `unrecorded` (no row yet). */
  readonly status: 'applied' | 'baseline' | 'unrecorded';
  readonly appliedAt: Date | null;
  readonly durationMs: number | null;
  readonly applicationName: string | null;
  readonly host: string | null;
  readonly pid: number | null;
  readonly moduleVersion: string | null;
  readonly mode: string | null;
  readonly checksum: string | null;
  readonly checksumStatus: ChecksumStatus;
}

/** A failed attempt in `history()`: recorded after its rollback. */
export interface FailedAttempt {
  readonly name: string;
  readonly failedAt: Date;
  readonly durationMs: number | null;
  readonly applicationName: string;
  readonly host: string;
  readonly pid: number;
  readonly mode: string;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
}

export interface MigrationHistoryReport {
  /** Applied migrations, newest first. */
  readonly applied: readonly HistoryEntry[];
  /** Failed attempts, newest first. */
  readonly failed: readonly FailedAttempt[];
}

/** Applied migrations newest first (at most `limit`), and failed attempts apart. */
export async function historyReport(
  history: MigrationHistory,
  dataSource: DataSource,
  limit: number,
): Promise<MigrationHistoryReport> {
  const state = await history.read();
  const findings = new Map(
    (await history.findings(state)).map((finding) => [finding.name, finding.kind]),
  );
  const table = history.table;
  const [latest, failed] = table
    ? await onPooledClient(dataSource, async (client) => [
        await rowsOrNone<RecordRow>(client, latestRecordsSql(table)),
        await rowsOrNone<RecordRow & { error_code: string | null; error_message: string | null }>(
          client,
          failedAttemptsSql(table, limit),
        ),
      ])
    : [[], []];
  const records = new Map(latest.map((record) => [record.name, record]));
  const applied = [...state.applied]
    .reverse()
    .slice(0, limit)
    .map((migration) => entryOf(migration.name, records.get(migration.name), findings));
  return {
    applied,
    failed: failed.map((row) => ({
      name: row.name,
      failedAt: row.applied_at,
      durationMs: row.duration_ms,
      applicationName: row.application_name,
      host: row.host,
      pid: row.pid,
      mode: row.mode,
      errorCode: row.error_code,
      errorMessage: row.error_message,
    })),
  };
}

function entryOf(
  name: string,
  record: RecordRow | undefined,
  findings: ReadonlyMap<string, DriftFinding['kind']>,
): HistoryEntry {
  const finding = findings.get(name);
  const checksumStatus: ChecksumStatus =
    finding === 'changed' || finding === 'missing' || finding === 'unverifiable'
      ? finding
      : finding === 'unrecorded'
        ? 'unrecorded'
        : 'ok';
  const known = record?.status === 'applied' || record?.status === 'baseline' ? record : undefined;
  return {
    name,
    status: known ? (known.status as 'applied' | 'baseline') : 'unrecorded',
    appliedAt: known?.applied_at ?? null,
    durationMs: known?.duration_ms ?? null,
    applicationName: known?.application_name ?? null,
    host: known?.host ?? null,
    pid: known?.pid ?? null,
    moduleVersion: known?.module_version ?? null,
    mode: known?.mode ?? null,
    checksum: known?.checksum ?? null,
    checksumStatus,
  };
}
