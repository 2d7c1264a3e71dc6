import type { PoolClient } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { beginAndLockSql, beginAndTryLockSql, COMMIT_SQL } from './advisory-lock.sql.js';
import { cancelBackend } from './backend-cancel.js';
import type { AdvisoryLockKey } from './lock-key.js';
import { TransactionRolledBackError } from '../errors/migration-lock.errors.js';

type PgClient = PoolClient & { processID: number };
/** The parts of TypeORM's PostgresQueryRunner this file steers; see recordTransactionState. */
type PostgresQueryRunner = QueryRunner & {
  transactionDepth: number;
  releasePostgresConnection(error?: Error): Promise<void>;
};

/**
 * One pooled connection, one transaction, one advisory lock: the lock and the work it protects
 * share this connection, so the lock cannot outlive the work or be separated from it.
 */
export class LockTransaction {
  private lost: Error | undefined;
  private cancelling: Promise<void> | undefined;
  private readonly lostController = new AbortController();
  private readonly onError = (error: Error) => this.markLost(error);
  private readonly onEnd = () => this.markLost(new Error('Connection terminated'));

  private constructor(
    private readonly lockName: string,
    private readonly dataSource: DataSource,
    readonly queryRunner: PostgresQueryRunner,
    private readonly client: PgClient,
  ) {
    // TypeORM attaches its own 'error' handler; these record the loss so that success is never
    // reported after the server released the lock.
    client.on('error', this.onError);
    client.on('end', this.onEnd);
  }

  /** Takes a connection from the DataSource's primary (`master`) pool. */
  static async open(dataSource: DataSource, lockName: string): Promise<LockTransaction> {
    const queryRunner = dataSource.createQueryRunner('master') as PostgresQueryRunner;
    try {
      const client = (await queryRunner.connect()) as PgClient;
      return new LockTransaction(lockName, dataSource, queryRunner, client);
    } catch (error) {
      await queryRunner.release();
      throw error;
    }
  }

  /** The server process id of the lock's connection (what pg_locks.pid shows). */
  get backendPid(): number {
    return this.client.processID;
  }

  /** Why the connection is gone, if it is. */
  get lostCause(): Error | undefined {
    return this.lost;
  }

  /** Fires when the connection is gone (and with it the lock). */
  get lostSignal(): AbortSignal {
    return this.lostController.signal;
  }

  private markLost(error: Error): void {
    this.lost ??= error;
    this.lostController.abort(this.lost);
  }

  /**
   * Starts the transaction and waits for the lock, at most `timeoutMs` (0: forever).
   * When `signal` fires during the wait, the wait is cancelled at the server (SQLSTATE 57014).
   */
  async acquire(key: AdvisoryLockKey, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const cancel = () => {
      this.cancelling = cancelBackend(this.dataSource, this.backendPid).catch(() => undefined);
    };
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      await this.begin(beginAndLockSql(key, timeoutMs));
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** Starts the transaction and tries the lock once, without waiting. */
  async tryAcquire(key: AdvisoryLockKey): Promise<boolean> {
    const results = await this.begin(beginAndTryLockSql(key));
    return results.at(-1)?.rows[0]?.acquired === true;
  }

  /**
   * Cancels whatever the connection runs now (used when the caller aborts while holding the lock);
   * the transaction is then rolled back by close().
   */
  cancelCurrentStatement(): void {
    this.cancelling ??= cancelBackend(this.dataSource, this.backendPid).catch(() => undefined);
  }

  /** Commits; a COMMIT that PostgreSQL turned into ROLLBACK is thrown, never swallowed. */
  async commit(): Promise<void> {
    const result = await this.client.query(COMMIT_SQL);
    recordTransactionState(this.queryRunner, false);
    if (result.command !== 'COMMIT') throw new TransactionRolledBackError(this.lockName);
  }

  /**
   * Rolls back whatever is still open, then returns the connection. TypeORM's release() does not
   * roll back: without this, a pooled connection would keep holding the lock.
   */
  async close(): Promise<void> {
    this.client.removeListener('error', this.onError);
    this.client.removeListener('end', this.onEnd);
    await this.cancelling;
    if (this.lost) {
      await this.queryRunner.releasePostgresConnection(this.lost);
      return;
    }
    if (this.queryRunner.isTransactionActive) {
      try {
        await this.queryRunner.rollbackTransaction();
      } catch (error) {
        // The connection's state is unknown: destroy it rather than pool it with a lock held.
        await this.queryRunner.releasePostgresConnection(error as Error);
        return;
      }
    }
    await this.queryRunner.release();
  }

  private async begin(sql: string): Promise<Array<{ rows: Array<Record<string, unknown>> }>> {
    recordTransactionState(this.queryRunner, true);
    const result: unknown = await this.client.query(sql);
    return result as Array<{ rows: Array<Record<string, unknown>> }>;
  }
}

/*
 * The transaction is started and ended by this file's own statements (to save round trips and to
 * see COMMIT's real outcome), so TypeORM's QueryRunner is told what its startTransaction() and
 * commitTransaction() would have recorded: nested manager.transaction() calls inside the lock then
 * use savepoints, and rollbackTransaction() works as usual.
 */
function recordTransactionState(queryRunner: PostgresQueryRunner, active: boolean): void {
  (queryRunner as { isTransactionActive: boolean }).isTransactionActive = active;
  queryRunner.transactionDepth = active ? 1 : 0;
}
