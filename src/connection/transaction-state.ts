import { TransactionRolledBackError } from '../errors/migration-lock.errors.js';
import type { PgClient, PostgresQueryRunner } from './lock-connection.js';

/*
 * Transactions whose BEGIN and COMMIT the library sends itself on a QueryRunner's client (to save
 * round trips, and to see COMMIT's real outcome): the lock's transaction, and a step-by-step
 * migration committed together with its record.
 */

/**
 * Ends a transaction. PostgreSQL answers COMMIT of a transaction that an earlier (caught) error
 * aborted with the tag ROLLBACK and no error, so the tag is always checked (assertCommitted).
 */
export const COMMIT_SQL = 'COMMIT';

/** Throws TransactionRolledBackError when a COMMIT's answer says ROLLBACK; `name`: what committed. */
export function assertCommitted(result: { command?: string | null }, name: string): void {
  if (result.command !== 'COMMIT') throw new TransactionRolledBackError(name);
}

/**
 * Sends `before` (if any) and COMMIT in one round trip on the QueryRunner's client, and checks that
 * the transaction really committed.
 */
export async function commitOn(
  client: PgClient,
  queryRunner: PostgresQueryRunner,
  name: string,
  before?: string,
): Promise<void> {
  if (before === undefined) {
    const result = await client.query(COMMIT_SQL);
    recordTransactionState(queryRunner, false);
    return assertCommitted(result, name);
  }
  // Several statements in one simple query: pg resolves to one result per statement.
  const results = (await client.query(`${before}; ${COMMIT_SQL}`)) as unknown as Array<{
    command?: string | null;
  }>;
  recordTransactionState(queryRunner, false);
  assertCommitted(results[results.length - 1], name);
}

/*
 * TypeORM's QueryRunner is told what its startTransaction() and commitTransaction() would have
 * recorded: nested manager.transaction() calls inside the lock then use savepoints, and
 * rollbackTransaction() works as usual.
 */
export function recordTransactionState(queryRunner: PostgresQueryRunner, active: boolean): void {
  (queryRunner as { isTransactionActive: boolean }).isTransactionActive = active;
  queryRunner.transactionDepth = active ? 1 : 0;
}
