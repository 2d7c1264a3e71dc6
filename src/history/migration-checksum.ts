import { createHash } from 'node:crypto';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

/*
 * A migration's checksum is taken from what its up() sends, not from its source: the same
 * statements give the same checksum whatever compiled the migration (another TypeScript target,
 * a minifier, a formatter, CommonJS or ESM), and any change to a statement changes it. The
 * statements are captured by a QueryRunner that executes nothing and answers every query with no
 * rows, the same way when a migration is applied and when it is validated. A migration that
 * cannot run on such answers (it reads data and needs rows) cannot be captured: unverifiable.
 */

/** What a capture of a migration's up() found. */
export type MigrationCapture =
  | { readonly verifiable: true; readonly statements: readonly string[]; readonly checksum: string }
  | { readonly verifiable: false; readonly reason: string };

/**
 * One statement as the checksum sees it: whitespace runs made one space (a formatter's change is
 * none), its parameters after it.
 */
export function normalizeStatement(sql: string, parameters?: unknown): string {
  const text = sql.replace(/\s+/g, ' ').trim().replace(/;+$/, '').trimEnd();
  const values = Array.isArray(parameters) ? parameters : parameters ? [parameters] : [];
  return values.length === 0 ? text : `${text} -- ${JSON.stringify(values)}`;
}

/** sha256 of the statements, one per line, in hex. */
export function checksumOf(statements: readonly string[]): string {
  return createHash('sha256').update(statements.join('\n')).digest('hex');
}

/**
 * Runs `migration.up()` against a QueryRunner of `dataSource` that sends nothing: every query is
 * recorded and answered with no rows, and the runner never takes a connection. TypeORM's schema
 * builder (createTable, addColumn …) goes through query() too, so its statements are recorded in
 * the order the migration makes them.
 */
export async function captureUp(
  dataSource: DataSource,
  migration: MigrationInterface,
): Promise<MigrationCapture> {
  const statements: string[] = [];
  const runner = recordingQueryRunner(dataSource, statements);
  try {
    await migration.up(runner);
  } catch (error) {
    return { verifiable: false, reason: (error as Error)?.message ?? String(error) };
  } finally {
    await runner.release();
  }
  return { verifiable: true, statements, checksum: checksumOf(statements) };
}

function recordingQueryRunner(dataSource: DataSource, statements: string[]): QueryRunner {
  const runner = dataSource.createQueryRunner('master');
  const noRows = async (sql: string, parameters?: unknown, structured?: boolean) => {
    statements.push(normalizeStatement(sql, parameters));
    return structured ? { records: [], raw: [], affected: 0 } : [];
  };
  // Own properties shadow the driver's methods on this instance only.
  Object.assign(runner, {
    query: noRows,
    connect: async () => undefined,
    startTransaction: async () => undefined,
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
  });
  return runner;
}
