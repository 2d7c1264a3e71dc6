import type { PoolClient } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { sendCancelRequest } from './cancel-request.js';
import { isConnectionLoss } from './connection-loss.js';

export type PgClient = PoolClient & { processID: number };
/** The parts of TypeORM's PostgresQueryRunner the lock steers. */
export type PostgresQueryRunner = QueryRunner & {
  transactionDepth: number;
  releasePostgresConnection(error?: Error): Promise<void>;
};

/** The lock a pooled client serves now, if any: told of the client's loss. */
interface ClientWatch {
  owner?: LockConnection;
}

/**
 * One connection from the DataSource's primary (`master`) pool that a lock is taken on, watched
 * for loss: the lock and the work it protects share it, so the lock cannot outlive the work or be
 * separated from it.
 */
export class LockConnection {
  /*
   * TypeORM attaches its own 'error' handler; ours record the loss, so that success is never
   * reported after the server released the lock. They are attached once per pg client, which then
   * reports to whichever lock uses it: adding and removing listeners on every lock cost more than
   * the rest of this class.
   */
  private static readonly watches = new WeakMap<PgClient, ClientWatch>();

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
    this.watch = LockConnection.watchOf(client);
    this.watch.owner = this;
  }

  private static watchOf(client: PgClient): ClientWatch {
    const known = LockConnection.watches.get(client);
    if (known) return known;
    const watch: ClientWatch = {};
    client.on('error', (error: Error) => watch.owner?.markLost(error));
    client.on('end', () => watch.owner?.markLost(new Error('Connection terminated')));
    LockConnection.watches.set(client, watch);
    return watch;
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

  private markLost(error: Error): void {
    this.lost ??= error;
    this.lostController?.abort(this.lost);
  }
}

/**
 * After a lock's first statement failed: a pooled connection that the server closed while it sat
 * idle (idle_session_timeout, a proxy's idle timeout) fails right there, before anything is held.
 * Then the caller sends the same statement again on the fresh connection this resolves with; every
 * idle connection of the pool may be dead, so up to one attempt per pooled connection, plus one.
 * Any other error, or one attempt too many, is rethrown.
 */
export async function replaceLostConnection(
  dataSource: DataSource,
  connection: LockConnection,
  error: unknown,
  attempt: number,
): Promise<LockConnection> {
  if (!isConnectionLoss(error) || attempt > deadConnectionRetries(dataSource)) throw error;
  await connection.release({ destroy: error as Error });
  return LockConnection.open(dataSource);
}

/** How often a statement may meet a dead pooled connection in a row: once per pool slot. */
export function deadConnectionRetries(dataSource: DataSource): number {
  const pool = (dataSource.driver as unknown as { master?: { options?: { max?: number } } }).master;
  return (pool?.options?.max ?? 10) + 1;
}
