/*
 * TCP keepalive on the connections the module uses, while it uses them. A statement the server has
 * received leaves the client's socket idle until the answer: when the server's host then vanishes
 * (a failover that moves the address, a cut network), no FIN or RST ever comes and pg waits for the
 * answer forever. That is the one wait the module cannot bound by a timer: the work under a lock
 * (a migration may rightly run for hours) and a wait with timeoutMs 0 ("forever"). Keepalive probes
 * end such a connection once the peer stops acknowledging them, while a live server doing long
 * work keeps acknowledging. They also keep NATs and load balancers from dropping a long, quiet
 * statement. pg leaves keepalive off unless the app sets `keepAlive`; an app that set it keeps its
 * own settings, and sockets the module switched on are switched off again when given back.
 */

/**
 * Idle time before the first probe. Node.js (libuv) then probes every second, 10 times: a vanished
 * peer is noticed about 20 s after the socket last heard from it.
 */
export const KEEPALIVE_IDLE_MS = 10_000;

interface KeepAliveSocket {
  setKeepAlive(enable?: boolean, initialDelayMs?: number): unknown;
}

/** pg's Connection: `_keepAlive` is the client's `keepAlive` option (pg 8.x). */
interface PgConnection {
  _keepAlive?: boolean;
  stream?: Partial<KeepAliveSocket>;
}

const KEEPALIVE_LEFT_AS_IS = (): void => undefined;

/**
 * Switches keepalive on for `client`'s socket, unless its app configured it; returns what switches
 * it back off when the client goes back to the pool.
 */
export function keepAliveWhileInUse(client: object): () => void {
  const connection = (client as { connection?: PgConnection }).connection;
  const socket = connection?.stream;
  if (!socket?.setKeepAlive || connection?._keepAlive) return KEEPALIVE_LEFT_AS_IS;
  socket.setKeepAlive(true, KEEPALIVE_IDLE_MS);
  return () => socket.setKeepAlive?.(false);
}
