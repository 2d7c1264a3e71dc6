import type { DataSource } from 'typeorm';
import { TransactionRolledBackError } from '../errors/migration-lock.errors.js';
import {
  awaitReleaseAndCommitSql,
  beginAndTryLockSql,
  COMMIT_SQL,
  waitForLockSql,
} from './advisory-lock.sql.js';
import type { LockConnectionSettings } from './advisory-lock.sql.js';
import {
  answerBoundMs,
  LockConnection,
  sendFirstStatement,
  type PgClient,
  type PostgresQueryRunner,
} from './lock-connection.js';
import type { AdvisoryLockKey } from './lock-key.js';

/**
 * A read the caller hands a transaction-form `follow`: sent in the round trip that ends the wait,
 * once the holder is done, so what the holder left comes back with the answer. The lock knows
 * nothing of what is read; the caller parses the rows, and may take an error of its own statement
 * (a table no holder made yet) as an answer instead of a failed wait.
 */
export interface ReadAfterRelease<R> {
  /** One read-only statement, sent after the wait's COMMIT in the same simple query. */
  readonly sql: string;
  parse(rows: ReadonlyArray<Record<string, unknown>>): R;
  /** An error only `sql` can raise, as the caller's answer; undefined: the error is the wait's. */
  answerFor?(error: unknown): R | undefined;
}

/**
 * A transaction-level advisory lock (`pg_advisory_xact_lock`): one connection, one transaction.
 * The lock ends with the transaction, so a crash or a lost connection frees it and rolls back.
 */
export class TransactionLock {
  private sentServerProbes = false;

  private constructor(
    private readonly lockName: string,
    private readonly dataSource: DataSource,
    private current: LockConnection,
  ) {}

  static async open(dataSource: DataSource, lockName: string): Promise<TransactionLock> {
    return new TransactionLock(lockName, dataSource, await LockConnection.open(dataSource));
  }

  get connection(): LockConnection {
    return this.current;
  }

  get queryRunner(): PostgresQueryRunner {
    return this.connection.queryRunner;
  }

  /**
   * Starts the transaction and takes the lock, waiting at most `timeoutMs` (0: forever) when it is
   * held. When `signal` fires during the wait, the wait is cancelled at the server (SQLSTATE 57014).
   */
  async acquire(
    key: AdvisoryLockKey,
    timeoutMs: number,
    settings: LockConnectionSettings,
    signal?: AbortSignal,
  ): Promise<void> {
    if (await this.tryAcquire(key, settings, answerBoundMs(timeoutMs))) return;
    await this.cancelledOnAbort(signal, timeoutMs, () =>
      this.connection.client.query(waitForLockSql(key, timeoutMs, settings)),
    );
  }

  /**
   * Starts the transaction and tries the lock once, without waiting; a pooled connection whose
   * server leaves it unanswered for `answerWithinMs` is replaced (see sendFirstStatement).
   */
  async tryAcquire(
    key: AdvisoryLockKey,
    settings: LockConnectionSettings,
    answerWithinMs: number,
  ): Promise<boolean> {
    const results = await this.begin(
      (withServerProbes) => beginAndTryLockSql(key, settings, withServerProbes),
      answerWithinMs,
    );
    return results.at(-1)?.rows[0]?.acquired === true;
  }

  /**
   * After a failed tryAcquire(): waits until the holder is done, without taking the lock, and ends
   * the transaction. Cancelled at the server when `signal` fires, like acquire(). With `read`,
   * resolves to its answer, read in the same round trip once the holder is done. An error that
   * `read.answerFor` takes as its own can only come from the read, so the wait is known to have
   * ended; any other error is the wait's.
   */
  async awaitRelease<R>(
    key: AdvisoryLockKey,
    timeoutMs: number,
    settings: LockConnectionSettings,
    signal?: AbortSignal,
    read?: ReadAfterRelease<R>,
  ): Promise<R | undefined> {
    const sql = awaitReleaseAndCommitSql(key, timeoutMs, settings, read?.sql);
    let answer: R | undefined;
    try {
      const results = await this.cancelledOnAbort(
        signal,
        timeoutMs,
        () => this.connection.client.query(sql) as unknown as Promise<QueryResults>,
      );
      if (read) answer = read.parse(results.at(-1)?.rows ?? []);
    } catch (error) {
      answer = read?.answerFor?.(error);
      if (answer === undefined) throw error;
    }
    recordTransactionState(this.queryRunner, false);
    this.committed();
    return answer;
  }

  /**
   * Runs a waiting statement that the server ends after `timeoutMs`; when `signal` fires meanwhile,
   * the server cancels it (57014). A signal that fired before (while the connection was checked
   * out, or during the try) is not missed: then the wait does not start. A server that leaves the
   * statement unanswered well past `timeoutMs` has its connection closed (answeredWithin).
   */
  private async cancelledOnAbort<T>(
    signal: AbortSignal | undefined,
    timeoutMs: number,
    wait: () => Promise<T>,
  ): Promise<T> {
    signal?.throwIfAborted();
    const cancel = () => this.connection.cancelCurrentStatement();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await this.connection.answeredWithin(answerBoundMs(timeoutMs), wait());
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** Commits; a COMMIT that PostgreSQL turned into ROLLBACK is thrown, never swallowed. */
  async commit(): Promise<void> {
    await commitOn(this.connection.client, this.queryRunner, this.lockName);
    this.committed();
  }

  /** Server probes sent in this transaction stay with the connection once it commits. */
  private committed(): void {
    if (this.sentServerProbes) this.connection.serverProbes = true;
  }

  /**
   * Rolls back whatever is still open, then returns the connection. TypeORM's release() does not
   * roll back: without this, a pooled connection would keep holding the lock.
   */
  async close(): Promise<void> {
    if (this.connection.lostCause || !this.queryRunner.isTransactionActive) {
      return this.connection.release();
    }
    try {
      await this.queryRunner.rollbackTransaction();
    } catch (error) {
      // The connection's state is unknown: destroy it rather than pool it with a lock held.
      return this.connection.release({ destroy: error as Error });
    }
    await this.connection.release();
  }

  /**
   * The first statement: again on a fresh connection while the pool hands out dead or silent ones.
   * `sql` is told whether to send the server probes: only where the connection lacks them.
   */
  private begin(
    sql: (withServerProbes: boolean) => string,
    answerWithinMs: number,
  ): Promise<QueryResults> {
    return sendFirstStatement(
      this.dataSource,
      this.current,
      (connection) => {
        this.current = connection;
        this.sentServerProbes = !connection.serverProbes;
        recordTransactionState(connection.queryRunner, true);
        return connection.client.query(
          sql(this.sentServerProbes),
        ) as unknown as Promise<QueryResults>;
      },
      answerWithinMs,
    );
  }
}

type QueryResults = Array<{ rows: Array<Record<string, unknown>> }>;

/** commit() on the QueryRunner's client, when the caller has it at hand. */
async function commitOn(
  client: PgClient,
  queryRunner: PostgresQueryRunner,
  lockName: string,
): Promise<void> {
  const result = await client.query(COMMIT_SQL);
  recordTransactionState(queryRunner, false);
  assertCommitted(result, lockName);
}

/**
 * PostgreSQL answers COMMIT of a transaction that an earlier (caught) error aborted with the tag
 * ROLLBACK and no error: that is thrown, never reported as success.
 */
export function assertCommitted(result: { command?: string | null }, name: string): void {
  if (result.command !== 'COMMIT') throw new TransactionRolledBackError(name);
}

/*
 * The transaction is started and ended by this file's own statements (to save round trips and to
 * see COMMIT's real outcome), so TypeORM's QueryRunner is told what its startTransaction() and
 * commitTransaction() would have recorded: nested manager.transaction() calls inside the lock then
 * use savepoints, and rollbackTransaction() works as usual.
 */
export function recordTransactionState(queryRunner: PostgresQueryRunner, active: boolean): void {
  (queryRunner as { isTransactionActive: boolean }).isTransactionActive = active;
  queryRunner.transactionDepth = active ? 1 : 0;
}
