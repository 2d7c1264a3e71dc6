import type { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { onPooledClient } from '../connection/lock-connection.js';
import { messages } from '../errors/migration-lock.messages.js';
import { sqlState, UNDEFINED_TABLE } from '../errors/sql-state.js';
import type { ReadAfterRelease } from '../lock/advisory-lock.service.js';
import { appliedNamesSql } from './migrations-table.sql.js';
import { rowsOrNone } from './missing-table-reads.js';

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

/**
 * What is still pending once a holder is done, read in the round trip that ends a follower's wait
 * (mode `all`). No migrations table yet means no holder got that far: everything is pending.
 */
export function pendingAfterRelease(dataSource: DataSource): ReadAfterRelease<string[]> {
  return {
    sql: appliedNamesSql(dataSource),
    parse: (rows) => notApplied(dataSource, appliedNamesIn(rows)),
    answerFor: (error) =>
      sqlState(error) === UNDEFINED_TABLE ? notApplied(dataSource, []) : undefined,
  };
}

const warnedEmpty = new WeakSet<DataSource>();

/**
 * A DataSource with no migrations at all is almost always a glob that matched nothing (the
 * compiled `dist/migrations/*.js` before a build): said once, as a warning, instead of a silent
 * "nothing pending" followed by tests failing on a missing table.
 */
export function warnIfNoMigrations(dataSource: DataSource, logger: Pick<Logger, 'warn'>): void {
  if (dataSource.migrations.length > 0 || warnedEmpty.has(dataSource)) return;
  warnedEmpty.add(dataSource);
  logger.warn(messages.noMigrations(dataSource.options.migrations));
}

/** Names of the migrations in the code that are not among `applied`. */
export function notApplied(dataSource: DataSource, applied: Iterable<string>): string[] {
  const done = new Set(applied);
  return dataSource.migrations
    .map((migration) => migration.name ?? migration.constructor.name)
    .filter((name) => !done.has(name));
}

/** The names in rows read with appliedNamesSql. */
function appliedNamesIn(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  return rows.map((row) => row.name as string);
}

/*
 * Read on a pooled pg client without a QueryRunner: every replica reads once or twice around the
 * lock, and TypeORM's QueryRunner and query() around the same statement (logging, subscribers'
 * broadcasts, its result object) cost more than the read itself.
 */
async function appliedNames(dataSource: DataSource, answerWithinMs: number): Promise<string[]> {
  const rows = await onPooledClient(
    dataSource,
    (client) => rowsOrNone<{ name: string }>(client, appliedNamesSql(dataSource)),
    answerWithinMs,
  );
  return appliedNamesIn(rows);
}
