import { connect } from 'node:net';
import { SessionLockThroughPoolerError } from '../errors/migration-lock.errors.js';
import type { PoolClient } from 'pg';

/** A pg client with the process ID of the key it was given at start-up. */
type PgClient = PoolClient & { processID: number };

/*
 * What the key a connection was given at start-up (BackendKeyData: a process ID and a secret) is
 * good for: cancelling the statement it runs, and telling PostgreSQL itself from a pooler, which
 * gives its clients keys of its own.
 */

/** The protocol's CancelRequest code (PostgreSQL frontend/backend protocol, "CancelRequest"). */
const CANCEL_REQUEST_CODE = 80877102;
/** A cancel that gets no answer in this time is given up: the wait then ends at its lock_timeout. */
const CANCEL_TIMEOUT_MS = 5_000;

/** What a cancel needs to know of a connection: where it goes, and the key it was given at start-up. */
type CancelTarget = Pick<PgClient, 'processID'> & { host: string; port: number; secretKey: number };

/**
 * Cancels the statement the connection runs now (a lock wait, or work being aborted) with the
 * protocol's own CancelRequest on a fresh socket, as libpq's PQcancel does. Behind a pooler the
 * connection's process ID and secret key are the pooler's, not a server pid, so
 * `pg_cancel_backend(processID)` would cancel nothing (or another session); the pooler forwards a
 * CancelRequest to the right server connection. It needs no login, so it also works with a pool
 * of one connection. Resolves when the server closed the socket, or on error: a failed cancel only
 * means the wait goes on until its lock_timeout.
 */
export function sendCancelRequest(client: PgClient): Promise<void> {
  const { host, port, processID, secretKey } = client as unknown as CancelTarget;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve) => {
    // A host starting with '/' is a Unix socket directory, as in libpq.
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host);
    socket.setTimeout(CANCEL_TIMEOUT_MS, () => socket.destroy());
    // Send, then wait for the other side to close, as libpq does: closing our side at once made
    // PgBouncer 1.18 drop the request in session pooling and exit ("bad client state") in
    // transaction pooling.
    socket.once('connect', () => socket.write(packet));
    socket.once('error', () => resolve());
    socket.once('close', () => resolve());
  });
}

/** The server process of this connection, to compare with the key the connection was given. */
const BACKEND_PID_SQL = 'SELECT pg_catalog.pg_backend_pid() AS pid';

/*
 * Whether a connection reaches PostgreSQL itself. A server tells each connection its backend pid
 * at start-up (BackendKeyData, pg's `processID`); a pooler such as PgBouncer gives its clients keys
 * of its own instead, so the two differ. Measured behind PgBouncer 1.18 in transaction and session
 * pooling: always different; directly: always equal. A connection keeps its answer for life, so
 * it is asked once per pg client.
 */
const verified = new WeakSet<object>();

/**
 * The server's backend pid of `client` when it differs from the process ID the connection was given
 * at start-up, i.e. when the connection goes through a pooler; undefined on a direct connection.
 * One round trip.
 */
export async function backendPidBehindPooler(
  client: Pick<PgClient, 'query' | 'processID'>,
): Promise<number | undefined> {
  const { rows } = await client.query<{ pid: number }>(BACKEND_PID_SQL);
  const backendPid = rows[0].pid;
  return backendPid === client.processID ? undefined : backendPid;
}

/** Throws SessionLockThroughPoolerError when `client` goes through a pooler; one round trip, once. */
export async function assertDirectConnection(client: PgClient, lockName: string): Promise<void> {
  if (verified.has(client)) return;
  const backendPid = await backendPidBehindPooler(client);
  if (backendPid !== undefined)
    throw new SessionLockThroughPoolerError(lockName, backendPid, client.processID);
  verified.add(client);
}
