import type { PgClient } from '../connection/lock-connection.js';
import { sqlState, UNDEFINED_TABLE } from '../errors/sql-state.js';

/*
 * Reads of tables a run makes on first use (the migrations table, the history): before any run
 * they do not exist, which reads as "nothing recorded yet", not as an error.
 */

/** A read of a table that may not exist yet: no rows then. */
export async function rowsOrNone<R>(client: PgClient, sql: string): Promise<R[]> {
  try {
    return (await client.query(sql)).rows as R[];
  } catch (error) {
    if (sqlState(error) === UNDEFINED_TABLE) return [];
    throw error;
  }
}

/** A one-row JSON read (`… AS rows`) of a table that may not exist yet: an empty array then. */
export async function jsonOrNone<T extends unknown[]>(client: PgClient, sql: string): Promise<T> {
  const [row] = await rowsOrNone<{ rows: T }>(client, sql);
  return row?.rows ?? ([] as unknown as T);
}
