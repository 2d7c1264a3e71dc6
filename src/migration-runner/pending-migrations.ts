import type { DataSource } from 'typeorm';
import { sqlState } from '../errors/sql-state.js';
import {
  deadConnectionRetries,
  isConnectionLoss,
  onPooledClient,
} from '../lock/lock-connection.js';
import { appliedNamesSql } from './migrations-table.sql.js';

const UNDEFINED_TABLE = '42P01';

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
  const inCode = dataSource.migrations.map(
    (migration) => migration.name ?? migration.constructor.name,
  );
  const applied = new Set(await appliedNames(dataSource, answerWithinMs));
  return inCode.filter((name) => !applied.has(name));
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
      return rows.map((row) => row.name);
    } catch (error) {
      if (sqlState(error) === UNDEFINED_TABLE) return [];
      // A pooled connection the server closed while idle: a read is safe to repeat, and every
      // idle connection of the pool may be dead (after an idle_session_timeout).
      if (!isConnectionLoss(error) || attempt > deadConnectionRetries(dataSource)) throw error;
    }
  }
}
