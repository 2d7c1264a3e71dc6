import type { DataSource } from 'typeorm';
import type { SentStatement } from '../history/migration-checksum.js';
import type { MigrationHistory } from './migration-history.js';
import { pendingMigrationNames } from './pending-migrations.js';

/** What `dryRun()` found: per pending migration, the statements it would send. */
export interface DryRunResult {
  readonly pending: ReadonlyArray<{
    readonly name: string;
    readonly statements: readonly SentStatement[];
    /** Set when up() needs rows to go on: `statements` are those it sent before that point. */
    readonly dependsOnData?: string;
  }>;
}

/**
 * What run() would send, per pending migration, without taking the lock or changing anything:
 * each up() runs against a QueryRunner that records its statements and answers with no rows.
 */
export async function dryRun(
  dataSource: DataSource,
  history: MigrationHistory,
): Promise<DryRunResult> {
  const pending = new Set(await pendingMigrationNames(dataSource));
  const migrations = history.codeMigrations().filter((migration) => pending.has(migration.name));
  const captures = await history.captureAll(migrations);
  return {
    pending: migrations.map(({ name }, i) => {
      const capture = captures[i];
      return capture.verifiable
        ? { name, statements: capture.sent }
        : { name, statements: capture.sent, dependsOnData: capture.reason };
    }),
  };
}
