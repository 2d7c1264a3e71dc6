import type pg from 'pg';
import { DATABASES_LIKE_SQL } from './test-database.sql.js';

/** Names of the namespace's databases, each with whether it is a complete template. */
export async function namespaceDatabases(
  client: pg.Client,
  namespace: string,
): Promise<Map<string, boolean>> {
  const { rows } = await client.query<{ name: string; complete: boolean }>(DATABASES_LIKE_SQL, [
    `mlt\\_${namespace}\\_%`,
  ]);
  return new Map(rows.map((row) => [row.name, row.complete]));
}
