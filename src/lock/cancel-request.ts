import { connect } from 'node:net';
import type { PgClient } from './lock-connection.js';

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
