import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { CANCEL_BACKEND_SQL } from './advisory-lock.sql.js';

/**
 * Cancels the statement running on backend `pid` (a lock wait) so that nothing stays waiting in
 * pg_locks. It uses a one-shot connection outside the DataSource's pool: the pool may have a
 * single connection, and that one is the waiting one.
 */
export async function cancelBackend(dataSource: DataSource, pid: number): Promise<void> {
  // The pg module and pool TypeORM loaded, so the cancel connects exactly as the pool does.
  const driver = dataSource.driver as unknown as { postgres: typeof pg; master: pg.Pool };
  const client = new driver.postgres.Client({
    ...driver.master.options,
    application_name: 'migration-lock:cancel',
  });
  // A failed cancel only means the wait goes on until its lock_timeout; it must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(CANCEL_BACKEND_SQL, [pid]);
  } finally {
    await client.end().catch(() => undefined);
  }
}
