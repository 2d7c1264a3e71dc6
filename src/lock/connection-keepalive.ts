/*
 * TCP keepalive on the connections the module uses. A statement the server has received leaves
 * the client's socket idle until the answer: when the server's host then vanishes (a failover that
 * moves the address, a cut network), no FIN or RST ever comes and pg waits for the answer forever.
 * That is the one wait the module cannot bound by a timer: the work under a lock (a migration may
 * rightly run for hours) and a wait with timeoutMs 0 ("forever"). Keepalive probes end such a
 * connection once the peer stops acknowledging them, while a live server doing long work keeps
 * acknowledging. They also keep NATs and load balancers from dropping a long, quiet statement.
 *
 * pg leaves keepalive off unless the app sets `keepAlive`, where libpq has it on. The module
 * switches it on once per pooled connection and leaves it on: switching it off again on every
 * release cost a withLock about 6 % (five setsockopt calls, measured), and a pooled connection
 * with keepalive costs one small probe per KEEPALIVE_IDLE_MS while idle (and its pool then learns
 * of its death while idle too). An app that set `keepAlive` itself, true or false, keeps its choice.
 */

/**
 * Idle time before the first probe. Node.js (libuv) then probes every second, 10 times: a vanished
 * peer is noticed about 20 s after the socket last heard from it. The lock connections ask the
 * server to probe the same way (advisory-lock.sql.ts).
 */
export const KEEPALIVE_IDLE_MS = 10_000;
/** What libuv sets on every socket it switches keepalive on for (TCP_KEEPINTVL, TCP_KEEPCNT). */
export const KEEPALIVE_INTERVAL_MS = 1_000;
export const KEEPALIVE_PROBES = 10;

/** The parts of a pg Client read here (pg 8.11 and later). */
interface PgClientSocket {
  /** 1 or 0 when the app set `keepAlive` to true or false; absent when it did not. */
  connectionParameters?: { keepalives?: number };
  connection?: { stream?: { setKeepAlive?(enable: boolean, initialDelayMs: number): unknown } };
}

/** Switches keepalive on for `client`'s socket; called once per client, when the module first uses it. */
export function keepAliveOn(client: object): void {
  const { connectionParameters, connection } = client as PgClientSocket;
  if (connectionParameters?.keepalives !== undefined) return;
  connection?.stream?.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);
}
