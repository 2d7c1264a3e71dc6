import type { PoolClient } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { sendCancelRequest } from './backend-key.js';
import { closedIfSilent, isConnectionLoss, keepAliveOn } from './connection-loss.js';

/*
 * The connection a lock is taken on, and everything that concerns it as a pooled connection: the
 * one place where its loss is recorded (client events), how it is checked out again after a dead
 * one, and how a running statement on it is cancelled. What a loss means for the caller is decided
 * in lock/lock-failures.ts.
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
 * switched on then too (see connection-loss.ts).
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
    readonly queryRunner: PostgresQueryRunner,
    readonly client: PgClient,
  ) {
    this.watch = watchOf(client);
    this.watch.owner = this;
  }

  /**
   * Checks a connection out of the DataSource's primary pool and sends `first` on it. A pooled
   * connection that the server closed while it sat idle (idle_session_timeout, a proxy's idle
   * timeout), or that leaves the statement unanswered for `answerWithinMs` (one to a primary gone
   * in a failover, while new connections reach the new one), fails right there, before anything is
   * held: then it is closed and `first` goes again on another (triesAgainAfter). Any other
   * failure closes the connection too (its session state is unknown) and is thrown.
   */
  static async open<T>(
    dataSource: DataSource,
    first: (connection: LockConnection) => Promise<T>,
    answerWithinMs: number,
  ): Promise<[LockConnection, T]> {
    for (let tried = 1; ; tried++) {
      const queryRunner = dataSource.createQueryRunner('master') as PostgresQueryRunner;
      let connection: LockConnection | undefined;
      try {
        connection = new LockConnection(queryRunner, (await queryRunner.connect()) as PgClient);
        return [connection, await connection.answeredWithin(answerWithinMs, first(connection))];
      } catch (error) {
        if (connection) await connection.release({ destroy: error as Error });
        else await queryRunner.release();
        if (!triesAgainAfter(dataSource, error, tried)) throw error;
      }
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

/** What TypeORM's PostgresDriver checks out of its primary pool (0.3 and 1.x alike). */
type PrimaryPool = {
  obtainMasterConnection(): Promise<[PgClient, (error?: Error) => void]>;
};

/**
 * Runs `use` on a client of the DataSource's primary pool, checked out without a QueryRunner: for
 * one read that needs no lock (the followers' read of the migrations table). In a fresh replica
 * process, a QueryRunner's construction and bookkeeping cost a follower more CPU than that read.
 * A read is safe to repeat, so a pooled connection the server closed while idle is replaced
 * (triesAgainAfter); one whose server left it unanswered for `answerWithinMs` is closed.
 */
export async function onPooledClient<T>(
  dataSource: DataSource,
  use: (client: PgClient) => Promise<T>,
  answerWithinMs = Number.POSITIVE_INFINITY,
): Promise<T> {
  const pool = dataSource.driver as unknown as PrimaryPool;
  for (let tried = 1; ; tried++) {
    let release: ((error?: Error) => void) | undefined;
    try {
      const [client, giveBack] = await pool.obtainMasterConnection();
      release = giveBack;
      watchOf(client);
      const value = await closedIfSilent(client, answerWithinMs, use(client));
      release();
      return value;
    } catch (error) {
      release?.(isConnectionLoss(error) ? (error as Error) : undefined);
      if (!triesAgainAfter(dataSource, error, tried)) throw error;
    }
  }
}

/**
 * Whether a checkout whose attempt number `tried` failed with `error` goes again on another
 * connection: only when the pooled connection was dead, as every idle connection of the pool may
 * be (after an idle_session_timeout, or a failover), so up to one attempt per pool slot, plus one.
 */
function triesAgainAfter(dataSource: DataSource, error: unknown, tried: number): boolean {
  const pool = (dataSource.driver as unknown as { master?: { options?: { max?: number } } }).master;
  return isConnectionLoss(error) && tried <= (pool?.options?.max ?? 10);
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
