import type { DataSource } from 'typeorm';
import { sqlState, UNDEFINED_TABLE } from '../errors/sql-state.js';
import {
  deadConnectionRetries,
  isConnectionLoss,
  onPooledClient,
} from '../lock/lock-connection.js';
import { appliedNamesSql } from './migrations-table.sql.js';

/**
 * Names of the migrations in the code that the migrations table does not list, read with one cheap
 * query and no lock. Rows there commit with their migrations, so "nothing pending" is safe to
 * trust; replicas starting after a rollout, and waiters woken by the end of one, follow at once
 * instead of queueing for the lock.
 */
export async function pendingMigrationNames(
  dataSource: DataSource,
  answerWithinMs = Number.POSITIVE_INFINITY,
): Promise<string[]> {
  return notApplied(dataSource, await appliedNames(dataSource, answerWithinMs));
}

/** Names of the migrations in the code that are not among `applied`. */
export function notApplied(dataSource: DataSource, applied: Iterable<string>): string[] {
  const done = new Set(applied);
  return dataSource.migrations
    .map((migration) => migration.name ?? migration.constructor.name)
    .filter((name) => !done.has(name));
}

/** The names in rows read with appliedNamesSql. */
export function appliedNamesIn(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  return rows.map((row) => row.name as string);
}

/*
 * Read on a pooled pg client without a QueryRunner: every replica reads once or twice around the
 * lock, and TypeORM's QueryRunner and query() around the same statement (logging, subscribers'
 * broadcasts, its result object) cost more than the read itself.
 */
async function appliedNames(dataSource: DataSource, answerWithinMs: number): Promise<string[]> {
  const sql = appliedNamesSql(dataSource);
  for (let attempt = 1; ; attempt++) {
    try {
      const { rows } = await onPooledClient(
        dataSource,
        (client) => client.query<{ name: string }>(sql),
        answerWithinMs,
      );
      return appliedNamesIn(rows);
    } catch (error) {
      if (sqlState(error) === UNDEFINED_TABLE) return [];
      // A pooled connection the server closed while idle: a read is safe to repeat, and every
      // idle connection of the pool may be dead (after an idle_session_timeout).
      if (!isConnectionLoss(error) || attempt > deadConnectionRetries(dataSource)) throw error;
    }
  }
}
