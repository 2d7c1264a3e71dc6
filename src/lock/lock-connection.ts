import { connect } from 'node:net';
import type { PoolClient } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { SessionLockThroughPoolerError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { serverSeverity, sqlState } from '../errors/sql-state.js';
import { BACKEND_PID_SQL } from './advisory-lock.sql.js';
import { keepAliveOn } from './connection-keepalive.js';

/*
 * The connection a lock is taken on, and everything that concerns it as a connection: the one
 * place where its loss is detected (client events, and isConnectionLoss for errors), how a running
 * statement on it is cancelled, and whether it reaches PostgreSQL itself or a pooler. What a loss
 * means for the caller is decided in lock-failures.ts.
 */

export type PgClient = PoolClient & { processID: number };
/** The parts of TypeORM's PostgresQueryRunner the lock steers. */
export type PostgresQueryRunner = QueryRunner & {
  transactionDepth: number;
  releasePostgresConnection(error?: Error): Promise<void>;
};

/** The lock a pooled client serves now, if any: told of the client's loss. */
interface ClientWatch {
  owner?: LockConnection;
  /** The client's server session has the lock connections' keepalive probes (serverProbesSql). */
  serverProbes?: boolean;
}

/*
 * TypeORM attaches its own 'error' handler to a client only while a QueryRunner holds it; ours
 * record the loss, so that success is never reported after the server released the lock, and keep
 * an error on a client checked out without a QueryRunner from crashing the process. They are
 * attached once per pg client, which then reports to whichever lock uses it: adding and removing
 * listeners on every lock cost more than the rest of LockConnection. The client's TCP keepalive is
 * switched on then too (see connection-keepalive.ts).
 */
const watches = new WeakMap<PgClient, ClientWatch>();

function watchOf(client: PgClient): ClientWatch {
  const known = watches.get(client);
  if (known) return known;
  const watch: ClientWatch = {};
  client.on('error', (error: Error) => watch.owner?.markLost(error));
  client.on('end', () => watch.owner?.markLost(new Error('Connection terminated')));
  watches.set(client, watch);
  keepAliveOn(client);
  return watch;
}

/**
 * One connection from the DataSource's primary (`master`) pool that a lock is taken on, watched
 * for loss: the lock and the work it protects share it, so the lock cannot outlive the work or be
 * separated from it.
 */
export class LockConnection {
  private lost: Error | undefined;
  private cancelling: Promise<void> | undefined;
  /** Made on first use (see lostSignal): most locks never need it. */
  private lostController: AbortController | undefined;
  private readonly watch: ClientWatch;

  private constructor(
    private readonly dataSource: DataSource,
    readonly queryRunner: PostgresQueryRunner,
    readonly client: PgClient,
  ) {
    this.watch = watchOf(client);
    this.watch.owner = this;
  }

  static async open(dataSource: DataSource): Promise<LockConnection> {
    const queryRunner = dataSource.createQueryRunner('master') as PostgresQueryRunner;
    try {
      const client = (await queryRunner.connect()) as PgClient;
      return new LockConnection(dataSource, queryRunner, client);
    } catch (error) {
      await queryRunner.release();
      throw error;
    }
  }

  /** The server process id of the connection (what pg_locks.pid shows). */
  get backendPid(): number {
    return this.client.processID;
  }

  /**
   * Whether the server already probes this connection (serverProbesSql, committed on it earlier):
   * set once a transaction that sent them commits, cleared when the session is reset.
   */
  get serverProbes(): boolean {
    return this.watch.serverProbes === true;
  }

  set serverProbes(probes: boolean) {
    this.watch.serverProbes = probes;
  }

  /** Why the connection is gone, if it is. */
  get lostCause(): Error | undefined {
    return this.lost;
  }

  /** Fires when the connection is gone (and with it the lock). */
  get lostSignal(): AbortSignal {
    if (!this.lostController) {
      this.lostController = new AbortController();
      if (this.lost) this.lostController.abort(this.lost);
    }
    return this.lostController.signal;
  }

  /** Cancels whatever statement the connection runs now (a lock wait, or work being aborted). */
  cancelCurrentStatement(): void {
    this.cancelling ??= sendCancelRequest(this.client);
  }

  /**
   * Gives the connection back. A lost connection, or one the caller asks to `destroy` (its session
   * state must not reach the pool), is closed instead of pooled.
   */
  async release(options: { destroy?: Error } = {}): Promise<void> {
    this.watch.owner = undefined;
    await this.cancelling;
    const reason = this.lost ?? options.destroy;
    if (reason) await this.queryRunner.releasePostgresConnection(reason);
    else await this.queryRunner.release();
  }

  /** closedIfSilent() on this lock's connection, which is then marked lost. */
  answeredWithin<T>(withinMs: number, waiting: Promise<T>): Promise<T> {
    return closedIfSilent(this.client, withinMs, waiting, (error) => this.markLost(error));
  }

  /** Called by the client's watch (see watchOf). */
  markLost(error: Error): void {
    this.lost ??= error;
    this.lostController?.abort(this.lost);
  }
}

/**
 * Settles as `waiting` does, unless the server leaves it unanswered for `withinMs`: then the
 * client's socket is closed, which ends `waiting` with the loss of its connection. A server that
 * stops answering (its host gone in a failover, a network cut) sends nothing, not even the
 * lock_timeout error it owes, and pg would wait for it forever. Infinity: no bound.
 */
async function closedIfSilent<T>(
  client: PgClient,
  withinMs: number,
  waiting: Promise<T>,
  onSilent?: (error: Error) => void,
): Promise<T> {
  if (!Number.isFinite(withinMs)) return waiting;
  const silent = setTimeout(() => {
    onSilent?.(new Error(messages.serverSilent(withinMs)));
    (client as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  }, withinMs);
  try {
    return await waiting;
  } finally {
    clearTimeout(silent);
  }
}

/** What TypeORM's PostgresDriver checks out of its primary pool (0.3 and 1.x alike). */
type PrimaryPool = {
  obtainMasterConnection(): Promise<[PgClient, (error?: Error) => void]>;
};

/**
 * Runs `use` on a client of the DataSource's primary pool, checked out without a QueryRunner: for
 * one read that needs no lock (the followers' read of the migrations table). In a fresh replica
 * process, a QueryRunner's construction and bookkeeping cost a follower more CPU than that read.
 * A client whose connection `use` found lost, or whose server left it unanswered for
 * `answerWithinMs`, is closed instead of pooled.
 */
export async function onPooledClient<T>(
  dataSource: DataSource,
  use: (client: PgClient) => Promise<T>,
  answerWithinMs = Number.POSITIVE_INFINITY,
): Promise<T> {
  const [client, release] = await (
    dataSource.driver as unknown as PrimaryPool
  ).obtainMasterConnection();
  watchOf(client);
  try {
    const value = await closedIfSilent(client, answerWithinMs, use(client));
    release();
    return value;
  } catch (error) {
    release(isConnectionLoss(error) ? (error as Error) : undefined);
    throw error;
  }
}

/**
 * Sends a lock's first statement with `send`. A pooled connection that the server closed while it
 * sat idle (idle_session_timeout, a proxy's idle timeout) fails right there, before anything is
 * held: then the statement goes again on a fresh connection. Every idle connection of the pool may
 * be dead, so up to one attempt per pooled connection, plus one. Any other error, or one attempt
 * too many, is thrown. `send` is given the connection of each attempt: the caller adopts it there,
 * before the statement, so that whatever ends, the caller closes the connection it last got. So is
 * a pooled connection whose server left the statement unanswered for `answerWithinMs` (one to a
 * primary gone in a failover, while new connections reach the new one).
 */
export async function sendFirstStatement<T>(
  dataSource: DataSource,
  connection: LockConnection,
  send: (connection: LockConnection) => Promise<T>,
  answerWithinMs: number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connection.answeredWithin(answerWithinMs, send(connection));
    } catch (error) {
      if (!isConnectionLoss(error) || attempt > deadConnectionRetries(dataSource)) throw error;
      await connection.release({ destroy: error as Error });
      connection = await LockConnection.open(dataSource);
    }
  }
}

/**
 * How long past the lock timeout an answer may take before the connection counts as lost (see
 * closedIfSilent): room for a busy server and a slow network, far below "forever". Statements sent
 * before the lock is held are answered at once by a live server; a wait ends at the server by then.
 */
export const SILENT_SERVER_GRACE_MS = 5_000;

/** The bound for a wait that the server ends after `timeoutMs` (0: never, so no bound). */
export function answerBoundMs(timeoutMs: number): number {
  return timeoutMs === 0 ? Number.POSITIVE_INFINITY : timeoutMs + SILENT_SERVER_GRACE_MS;
}

/** How often a statement may meet a dead pooled connection in a row: once per pool slot. */
export function deadConnectionRetries(dataSource: DataSource): number {
  const pool = (dataSource.driver as unknown as { master?: { options?: { max?: number } } }).master;
  return (pool?.options?.max ?? 10) + 1;
}

/*
 * Errors that mean the lock's connection is gone, so the server has already released the lock and
 * rolled the transaction back. Seen as: pg_terminate_backend (57P01), server shutdown (57P02/57P03),
 * idle_in_transaction_session_timeout (25P03), transaction_timeout (25P04), connection exceptions
 * (class 08), any other error the server sends as FATAL (it ends the session: a conflict with
 * recovery, say), or the socket closing under node-postgres. The message is only read for errors
 * the server did not send: an ERROR's text may be anyone's (a migration's RAISE 'connection
 * closed' is not a lost connection), and reading it cost every fresh database's first read
 * (42P01) the regular expression's compilation.
 */
const CONNECTION_LOSS_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '25P03', '25P04']);
const CONNECTION_LOSS_MESSAGE =
  /Connection terminated|connection (is )?closed|Client has encountered a connection error|ECONNRESET|EPIPE/i;

/** Whether `error` says the connection is gone (see above). */
export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'QueryRunnerAlreadyReleasedError') return true;
  const code = sqlState(error);
  if (code && (CONNECTION_LOSS_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  const severity = serverSeverity(error);
  if (severity !== undefined) return severity === 'FATAL' || severity === 'PANIC';
  return CONNECTION_LOSS_MESSAGE.test(error.message);
}

/**
 * Whether the server said, in its last ReadyForQuery, that the connection is outside any
 * transaction block. False when unknown: pg reports it only since 8.x releases of 2025 (the peer
 * range starts earlier), and pg-native not at all.
 */
export function isOutsideTransaction(client: PgClient): boolean {
  const status = (client as { getTransactionStatus?: () => string | null }).getTransactionStatus;
  return status?.call(client) === 'I';
}

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
function sendCancelRequest(client: PgClient): Promise<void> {
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

/*
 * Whether a connection reaches PostgreSQL itself. A server tells each connection its backend pid
 * at start-up (BackendKeyData, pg's `processID`); a pooler such as PgBouncer gives its clients keys
 * of its own instead, so the two differ. Measured behind PgBouncer 1.18 in transaction and session
 * pooling: always different; directly: always equal. A connection keeps its answer for life, so
 * it is asked once per pg client.
 */
const verified = new WeakSet<PgClient>();

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
