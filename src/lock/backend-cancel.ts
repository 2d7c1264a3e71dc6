import type { DataSource } from 'typeorm';
import { CANCEL_BACKEND_SQL } from './advisory-lock.sql.js';
import { withOneShotClient } from './one-shot-client.js';

/**
 * Cancels the statement running on backend `pid` (a lock wait) so that nothing stays waiting in
 * pg_locks. A failed cancel only means the wait goes on until its lock_timeout.
 */
export async function cancelBackend(dataSource: DataSource, pid: number): Promise<void> {
  await withOneShotClient(dataSource, 'migration-lock:cancel', (client) =>
    client.query(CANCEL_BACKEND_SQL, [pid]),
  );
}
