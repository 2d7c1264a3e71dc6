import { SessionLockThroughPoolerError } from '../errors/migration-lock.errors.js';
import { BACKEND_PID_SQL } from './advisory-lock.sql.js';
import type { PgClient } from './lock-connection.js';

/*
 * Whether a connection reaches PostgreSQL itself. A server tells each connection its backend pid
 * at start-up (BackendKeyData, pg's `processID`); a pooler such as PgBouncer gives its clients keys
 * of its own instead, so the two differ. Measured behind PgBouncer 1.18 in transaction and session
 * pooling: always different; directly: always equal. A connection keeps its answer for life, so
 * it is asked once per pg client.
 */
const verified = new WeakSet<PgClient>();

/** Throws SessionLockThroughPoolerError when `client` goes through a pooler; one round trip, once. */
export async function assertDirectConnection(client: PgClient, lockName: string): Promise<void> {
  if (verified.has(client)) return;
  const { rows } = await client.query<{ pid: number }>(BACKEND_PID_SQL);
  const backendPid = rows[0].pid;
  if (backendPid !== client.processID)
    throw new SessionLockThroughPoolerError(lockName, backendPid, client.processID);
  verified.add(client);
}
