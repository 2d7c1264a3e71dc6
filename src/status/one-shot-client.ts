import type pg from 'pg';
import type { DataSource } from 'typeorm';

/**
 * Runs `work` on a fresh connection outside the DataSource's pool, configured exactly as the pool
 * is: the pool may have one connection, and that one may be the one waiting for the lock.
 */
export async function withOneShotClient<T>(
  dataSource: DataSource,
  applicationName: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const driver = dataSource.driver as unknown as { postgres: typeof pg; master: pg.Pool };
  const client = new driver.postgres.Client({
    ...driver.master.options,
    application_name: applicationName,
  });
  // A failure here must not crash the process; the caller sees it as a rejected promise.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
