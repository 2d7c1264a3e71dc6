import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import { onPooledClient } from '../connection/lock-connection.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { findDrift, type DriftFinding } from '../history/drift.js';
import {
  baselineSql,
  createHistoryTableSql,
  ensureHistoryTableSql,
  HISTORY_TABLE_LOCK_TYPE,
  recordedChecksumsSql,
  recordFailureSql,
  recordHistorySql,
  type HistoryRow,
  type HistoryStatus,
  type HistoryWriter,
} from '../history/history-table.sql.js';
import { captureAll, type MigrationCapture } from '../history/migration-checksum.js';
import { PACKAGE_VERSION } from '../telemetry/package-version.js';
import { codeMigrations, type CodeMigration } from './code-migrations.js';
import { appliedMigrationsSql } from './migrations-table.sql.js';
import { jsonOrNone } from './missing-table-reads.js';
import type { MigrationTransactionMode } from './migration-runner.options.js';

/** What validation needs of a migration's latest row other than a failed attempt. */
interface RecordedChecksum {
  readonly status: Exclude<HistoryStatus, 'failed'>;
  readonly checksum: string | null;
}

/** The migrations table and the history, read together. */
export interface HistoryState {
  /** The migrations table's rows, oldest first. */
  readonly applied: ReadonlyArray<{ readonly name: string; readonly timestamp: number }>;
  /** Latest record per migration; empty when there is no history table (yet). */
  readonly records: ReadonlyMap<string, RecordedChecksum>;
}

/**
 * The runner's side of the history: reading it beside the migrations table, finding drift,
 * baselining, and the rows a run writes. A table of `false` keeps no history: validation then
 * still finds `missing` and `outOfOrder`, which need only the migrations table.
 */
export class MigrationHistory {
  readonly writer: HistoryWriter;

  constructor(
    private readonly dataSource: DataSource,
    readonly table: string | false,
    mode: MigrationTransactionMode,
  ) {
    this.writer = { host: hostname(), pid: process.pid, moduleVersion: PACKAGE_VERSION, mode };
  }

  /**
   * The migrations table and the latest history records, read without a lock. Each table comes
   * as one JSON array in one row: a replica reads both on every start, and pg's parsing of a row
   * per migration (cold, in a fresh process) cost more than the server's work.
   */
  async read(answerWithinMs = Number.POSITIVE_INFINITY): Promise<HistoryState> {
    return onPooledClient(
      this.dataSource,
      async (client) => {
        const applied = await jsonOrNone<Array<[string, number]>>(
          client,
          appliedMigrationsSql(this.dataSource),
        );
        const rows = this.table
          ? await jsonOrNone<Array<[string, RecordedChecksum['status'], string | null]>>(
              client,
              recordedChecksumsSql(this.table),
            )
          : [];
        // Oldest row first: a later row of the same migration (a revert, a re-apply) wins.
        const records = new Map<string, RecordedChecksum>();
        for (const [name, status, checksum] of rows) records.set(name, { status, checksum });
        return {
          applied: applied
            .map(([name, timestamp]) => ({ name, timestamp: Number(timestamp) }))
            .sort((a, b) => a.timestamp - b.timestamp),
          records,
        };
      },
      answerWithinMs,
    );
  }

  /**
   * Every finding: the code's migrations (applied ones captured) set beside `state`. Without a
   * history table there are no checksums to compare: only `missing` and `outOfOrder`. Without
   * `checksums`, no up() is run: `changed` and `unverifiable` are not looked for. With
   * `pendingAtStart` (read after a run), out of order means older than the newest migration
   * applied before that run: the run may have applied it since.
   */
  async findings(
    state: HistoryState,
    options: { checksums?: boolean; pendingAtStart?: ReadonlySet<string> } = {},
  ): Promise<DriftFinding[]> {
    const { checksums = true, pendingAtStart } = options;
    const code = this.codeMigrations();
    const captures = new Map<string, MigrationCapture>();
    if (this.table && checksums) {
      const applied = new Set(state.applied.map((migration) => migration.name));
      const toCapture = code.filter((migration) => applied.has(migration.name));
      const captured = await this.captureAll(toCapture);
      toCapture.forEach((migration, i) => captures.set(migration.name, captured[i]));
    }
    const described = code.map((migration) => ({
      name: migration.name,
      timestamp: migration.timestamp,
      capture: captures.get(migration.name),
    }));
    const recorded = state.applied.map((migration) => {
      const record = state.records.get(migration.name);
      // A revert's row says the migration is no longer applied: applied again without us.
      return record && record.status !== 'reverted'
        ? { ...migration, recorded: { checksum: record.checksum } }
        : migration;
    });
    let found = findDrift(recorded, described);
    // Without a history table nothing was ever recorded: only what the migrations table tells.
    if (!this.table)
      found = found.filter(
        (finding) => finding.kind === 'missing' || finding.kind === 'outOfOrder',
      );
    if (!pendingAtStart) return found;
    const appliedAtStart = recorded.filter((migration) => !pendingAtStart.has(migration.name));
    return [
      ...found.filter((finding) => finding.kind !== 'outOfOrder'),
      ...findDrift(appliedAtStart, described).filter((finding) => finding.kind === 'outOfOrder'),
    ];
  }

  /**
   * Rows of status `baseline` for migrations applied before the module kept history, with the
   * current code's checksum; under the table's own lock, and only for those still without one.
   */
  async baseline(locks: AdvisoryLockService, names: readonly string[], timeoutMs: number) {
    const table = this.table;
    if (!table || names.length === 0) return;
    const byName = new Map(this.codeMigrations().map((migration) => [migration.name, migration]));
    const captures = await this.captureAll(names.map((name) => byName.get(name)!));
    const rows = names.map((name, i) => ({
      name,
      checksum: checksumOrNull(captures[i]),
      durationMs: 0,
    }));
    await this.underTableLock(locks, table, baselineSql(table, rows, this.writer), timeoutMs);
  }

  /** The history's rows for migrations just applied, to be sent with their migrations table rows. */
  async appliedRowsSql(
    applied: ReadonlyArray<{ migration: CodeMigration; durationMs: number }>,
  ): Promise<string | undefined> {
    if (!this.table || applied.length === 0) return undefined;
    const captures = await this.captureAll(applied.map(({ migration }) => migration));
    const rows: HistoryRow[] = applied.map(({ migration, durationMs }, i) => ({
      name: migration.name,
      checksum: checksumOrNull(captures[i]),
      durationMs,
    }));
    return recordHistorySql(this.table, 'applied', rows, this.writer);
  }

  /** A revert's row, in the revert's transaction where it has one. */
  revertedRowSql(name: string): string | undefined {
    if (!this.table) return undefined;
    return recordHistorySql(
      this.table,
      'reverted',
      [{ name, checksum: null, durationMs: 0 }],
      this.writer,
    );
  }

  /** The statement that makes the table, under its lock, when a run finds it absent. */
  ensureTableSql(): string | undefined {
    return this.table ? ensureHistoryTableSql(this.table) : undefined;
  }

  /**
   * A failed attempt, after its rollback (mode `all` rolled the table back too, if this run made
   * it), or a tenant schema's (`tenant`): best effort, under the table's lock. The error behind it gives the code (a SQLSTATE) and
   * the message, never a connection string.
   */
  async recordFailure(
    locks: AdvisoryLockService,
    failure: { name: string; durationMs: number; error: unknown; tenant?: string },
    timeoutMs: number,
  ): Promise<void> {
    const table = this.table;
    if (!table) return;
    const cause = (failure.error as { cause?: unknown }).cause ?? failure.error;
    const row = {
      name: failure.name,
      ...(failure.tenant === undefined ? {} : { tenant: failure.tenant }),
      durationMs: failure.durationMs,
      code: (cause as { code?: unknown }).code?.toString(),
      message: (cause as Error)?.message ?? String(cause),
    };
    await this.underTableLock(locks, table, recordFailureSql(table, row, this.writer), timeoutMs);
  }

  /**
   * Writes outside a run (a baseline, a failed attempt): on a pooled connection, under the table's
   * lock, making the table first if no run has yet.
   */
  private async underTableLock(
    locks: AdvisoryLockService,
    table: string,
    sql: string,
    timeoutMs: number,
  ): Promise<void> {
    await locks.withLock(
      table,
      HISTORY_TABLE_LOCK_TYPE,
      async (manager) => {
        await manager.query(createHistoryTableSql(table));
        await manager.query(sql);
      },
      { timeoutMs },
    );
  }

  /** The code's migrations, checked and sorted as TypeORM's executor does. */
  codeMigrations(): CodeMigration[] {
    return codeMigrations(this.dataSource);
  }

  /** The captures of `migrations`, in their order (see captureAll). */
  captureAll(migrations: readonly CodeMigration[]): Promise<MigrationCapture[]> {
    return captureAll(
      this.dataSource,
      migrations.map((migration) => migration.instance),
    );
  }
}

function checksumOrNull(capture: MigrationCapture): string | null {
  return capture.verifiable ? capture.checksum : null;
}
