import { messages } from '../errors/migration-lock.messages.js';
import { serverSeverity, sqlState } from '../errors/sql-state.js';

/*
 * How the death of a connection is noticed, in one place: the errors that mean it is gone, a bound
 * on a server that stops answering, and TCP keepalive for the waits no timer may bound.
 */

/*
 * Errors that mean the connection is gone, so the server has already released its locks and rolled
 * its transaction back. Seen as: class 57P, operator intervention (pg_terminate_backend 57P01,
 * server shutdown 57P02/57P03, the database dropped 57P04, idle_session_timeout 57P05),
 * idle_in_transaction_session_timeout (25P03), transaction_timeout (25P04), connection exceptions
 * (class 08), any other error the server sends as FATAL (it ends the session: a conflict with
 * recovery, say), or the socket closing under node-postgres. The message is only read for errors
 * the server did not send: an ERROR's text may be anyone's (a migration's RAISE 'connection
 * closed' is not a lost connection), and reading it would cost every fresh database's first read
 * (42P01) the regular expression's compilation.
 */
const CONNECTION_LOSS_SQLSTATES = new Set(['25P03', '25P04']);
const CONNECTION_LOSS_MESSAGE =
  /Connection terminated|connection (is )?closed|Client has encountered a connection error|ECONNRESET|EPIPE/i;

/** Whether `error` says the connection is gone (see above). */
export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'QueryRunnerAlreadyReleasedError') return true;
  const code = sqlState(error);
  if (code && (CONNECTION_LOSS_SQLSTATES.has(code) || /^(08|57P)/.test(code))) return true;
  const severity = serverSeverity(error);
  if (severity !== undefined) return severity === 'FATAL' || severity === 'PANIC';
  return CONNECTION_LOSS_MESSAGE.test(error.message);
}

/**
 * The error in `error`'s cause chain that says the connection is gone, if any: the work under a
 * lock may have wrapped it (a migration's failure, a caller's own error). The server's own words
 * (an error with a SQLSTATE) are preferred over the socket's close that follows them.
 */
export function connectionLossIn(error: unknown): Error | undefined {
  const chain: unknown[] = [];
  for (let link = error; link !== undefined && chain.length < 8; link = (link as Error)?.cause)
    chain.push(link);
  const losses = chain.filter(isConnectionLoss) as Error[];
  return losses.find((loss) => sqlState(loss) !== undefined) ?? losses[0];
}

/**
 * How long past the lock timeout an answer may take before the connection counts as lost (see
 * closedIfSilent): room for a busy server and a slow network, far below "forever". Statements sent
 * before the lock is held are answered at once by a live server; a wait ends at the server by then.
 */
export const SILENT_SERVER_GRACE_MS = 5_000;

/**
 * The longest delay a Node.js timer takes: past it, Node warns (TimeoutOverflowWarning) and fires
 * after 1 ms instead, which would end a wait of days at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The bound for a wait that the server ends after `timeoutMs`: no bound for 0 (never), nor where
 * the bound would pass what a timer can wait (a wait of about 24.8 days: keepalive still ends one
 * whose server vanished).
 */
export function answerBoundMs(timeoutMs: number): number {
  const bound = timeoutMs + SILENT_SERVER_GRACE_MS;
  return timeoutMs === 0 || bound > MAX_TIMER_MS ? Number.POSITIVE_INFINITY : bound;
}

/** The parts of a pg Client read here (pg 8.11 and later). */
interface PgClientSocket {
  /** 1 or 0 when the app set `keepAlive` to true or false; absent when it did not. */
  connectionParameters?: { keepalives?: number };
  connection?: {
    stream?: { setKeepAlive?(enable: boolean, initialDelayMs: number): unknown; destroy(): void };
  };
}

/**
 * Settles as `waiting` does, unless the server leaves it unanswered for `withinMs`: then the
 * client's socket is closed, which ends `waiting` with the loss of its connection. A server that
 * stops answering (its host gone in a failover, a network cut) sends nothing, not even the
 * lock_timeout error it owes, and pg would wait for it forever. Infinity: no bound.
 */
export async function closedIfSilent<T>(
  client: object,
  withinMs: number,
  waiting: Promise<T>,
  onSilent?: (error: Error) => void,
): Promise<T> {
  // Past a timer's range there is no timer at all, never one that fires at once (see MAX_TIMER_MS).
  if (!(withinMs <= MAX_TIMER_MS)) return waiting;
  const silent = setTimeout(() => {
    onSilent?.(new Error(messages.serverSilent(withinMs)));
    (client as PgClientSocket).connection?.stream?.destroy();
  }, withinMs);
  try {
    return await waiting;
  } finally {
    clearTimeout(silent);
  }
}

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
 * release cost a measurable share of a withLock (docs/benchmarks.md), and a pooled connection with
 * keepalive costs one small probe per KEEPALIVE_IDLE_MS while idle (and its pool then learns of
 * its death while idle too). An app that set `keepAlive` itself, true or false, keeps its choice.
 */

/**
 * Idle time before the first probe. Node.js (libuv) then probes every second, 10 times: a vanished
 * peer is noticed about 20 s after the socket last heard from it. The lock connections ask the
 * server to probe the same way (serverProbesSql).
 */
export const KEEPALIVE_IDLE_MS = 10_000;
/** What libuv sets on every socket it switches keepalive on for (TCP_KEEPINTVL, TCP_KEEPCNT). */
export const KEEPALIVE_INTERVAL_MS = 1_000;
export const KEEPALIVE_PROBES = 10;

/** Switches keepalive on for `client`'s socket; called once per client, when the module first uses it. */
export function keepAliveOn(client: object): void {
  const { connectionParameters, connection } = client as PgClientSocket;
  if (connectionParameters?.keepalives !== undefined) return;
  connection?.stream?.setKeepAlive?.(true, KEEPALIVE_IDLE_MS);
}
