import type { DataSource } from 'typeorm';
import { answerBoundMs } from '../connection/connection-loss.js';
import {
  LockConnection,
  type PgClient,
  type PostgresQueryRunner,
} from '../connection/lock-connection.js';
import { commitOn, recordTransactionState } from '../connection/transaction-state.js';
import type {
  HoldResult,
  LockMode,
  QueryRunnerWork,
  ReadAfterRelease,
} from './advisory-lock.interfaces.js';
import {
  awaitReleaseAndCommitSql,
  beginAndTryLockSql,
  waitForLockSql,
  type LockConnectionSettings,
} from './advisory-lock.sql.js';
import { assertExclusive, transactionWaitFailure, waitingFailure } from './lock-failures.js';
import type { LockRequest } from './lock-request.js';
import { runLockedWork } from './locked-work.js';

type QueryResults = Array<{ rows: Array<Record<string, unknown>> }>;

const NOT_ACQUIRED = { acquired: false } as const;

/**
 * A transaction-level advisory lock (`pg_advisory_xact_lock`): one connection, one transaction.
 * The lock ends with the transaction, so a crash or a lost connection frees it and rolls back.
 */
class TransactionLock {
  private current: LockConnection | undefined;
  private sentServerProbes = false;
  constructor(
    private readonly dataSource: DataSource,
    private readonly request: LockRequest,
    private readonly settings: LockConnectionSettings,
  ) {}

  /** The lock's connection, once take() started its transaction on one. */
  get connection(): LockConnection {
    return this.current!;
  }

  get queryRunner(): PostgresQueryRunner {
    return this.connection.queryRunner;
  }

  /**
   * Starts the transaction and takes the lock as `mode` says: true when held; otherwise what hold()
   * answers for a lock it did not take. Every form tries first, in the round trip that starts the
   * transaction (a free lock costs nothing more). When it is held: `try` gives up, `wait` waits in
   * line, `follow` waits until the holder is done without taking the lock and reads what the
   * caller asked for in the same round trip.
   */
  async take<R>(mode: LockMode<R> & { form: 'transaction' }): Promise<true | HoldResult<never, R>> {
    const { key, timeoutMs, signal } = this.request;
    const [connection, results] = await LockConnection.open(
      this.dataSource,
      this.begin,
      answerBoundMs(timeoutMs),
    ).catch((error: unknown) => {
      throw waitingFailure(undefined, this.request, error);
    });
    this.current = connection;
    if (results.at(-1)?.rows[0]?.acquired === true) {
      await assertExclusive(connection.client, this.dataSource, 'transaction', this.request);
      return true;
    }
    if (mode.whenHeld === 'try') return NOT_ACQUIRED;
    try {
      if (mode.whenHeld === 'wait') {
        await this.waiting(signal, () =>
          this.client.query(waitForLockSql(key, timeoutMs, this.settings)),
        );
        return true;
      }
      const answer = await this.awaitRelease(mode.readAfterRelease);
      return answer === undefined ? NOT_ACQUIRED : { acquired: false, read: answer };
    } catch (error) {
      throw await transactionWaitFailure(this.connection, this.request, timeoutMs, error);
    }
  }

  /**
   * After a failed try: waits until the holder is done without taking the lock (the shared form,
   * granted to every follower at once) and ends the transaction; `read` goes in the same round trip.
   */
  private async awaitRelease<R>(read: ReadAfterRelease<R> | undefined): Promise<R | undefined> {
    const { key, timeoutMs, signal } = this.request;
    const sql = awaitReleaseAndCommitSql(key, timeoutMs, this.settings, read?.sql);
    let answer: R | undefined;
    try {
      const results = await this.waiting(
        signal,
        () => this.client.query(sql) as unknown as Promise<QueryResults>,
      );
      answer = read?.parse(results.at(-1)?.rows ?? []);
    } catch (error) {
      // An error the caller's read takes as its own can only come from the read, after the
      // wait's COMMIT: the wait ended. Any other error is the wait's.
      answer = read?.answerFor?.(error);
      if (answer === undefined) throw error;
    }
    recordTransactionState(this.queryRunner, false);
    this.committed();
    return answer;
  }

  /** Commits; a COMMIT that PostgreSQL turned into ROLLBACK is thrown, never swallowed. */
  async commit(): Promise<void> {
    await commitOn(this.client, this.queryRunner, this.request.name);
    this.committed();
  }

  /**
   * Rolls back whatever is still open, then returns the connection. TypeORM's release() does not
   * roll back: without this, a pooled connection would keep holding the lock.
   */
  async close(): Promise<void> {
    const connection = this.current;
    if (!connection) return;
    if (connection.lostCause || !this.queryRunner.isTransactionActive) return connection.release();
    try {
      await this.queryRunner.rollbackTransaction();
    } catch (error) {
      // The connection's state is unknown: destroy it rather than pool it with a lock held.
      return connection.release({ destroy: error as Error });
    }
    await connection.release();
  }

  private get client(): PgClient {
    return this.connection.client;
  }

  /** The first statement, on each connection LockConnection.open tries: the server probes only where it lacks them. */
  private readonly begin = (connection: LockConnection): Promise<QueryResults> => {
    this.sentServerProbes = !connection.serverProbes;
    recordTransactionState(connection.queryRunner, true);
    const sql = beginAndTryLockSql(this.request.key, this.settings, this.sentServerProbes);
    return connection.client.query(sql) as unknown as Promise<QueryResults>;
  };

  /**
   * Runs a waiting statement that the server ends after the timeout; when `signal` fires meanwhile,
   * the server cancels it (57014). A signal that fired before (while the connection was checked
   * out, or during the try) is not missed: then the wait does not start. A server that leaves the
   * statement unanswered well past the timeout has its connection closed (answeredWithin).
   */
  private async waiting<T>(signal: AbortSignal | undefined, wait: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    const cancel = () => this.connection.cancelCurrentStatement();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await this.connection.answeredWithin(answerBoundMs(this.request.timeoutMs), wait());
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** Server probes sent in this transaction stay with the connection once it commits. */
  private committed(): void {
    if (this.sentServerProbes) this.connection.serverProbes = true;
  }
}

/**
 * Takes the transaction-level lock as `mode` says and, once held, runs `work` on the lock's own
 * QueryRunner inside its transaction; commits, or rolls back on any error.
 */
export async function holdTransactionLock<T, R>(
  dataSource: DataSource,
  settings: LockConnectionSettings,
  mode: LockMode<R> & { form: 'transaction' },
  request: LockRequest,
  work: QueryRunnerWork<T>,
): Promise<HoldResult<T, R>> {
  const tx = new TransactionLock(dataSource, request, settings);
  try {
    const started = performance.now();
    const taken = await tx.take(mode);
    if (taken !== true) return taken;
    const value = await runLockedWork({
      dataSource,
      connection: tx.connection,
      request,
      // The forms that try first report no wait when the try got the lock.
      waitedMs: mode.whenHeld === 'wait' ? performance.now() - started : 0,
      cancelStatementOnAbort: true,
      work: (lock) => work(tx.queryRunner, lock),
      finish: () => tx.commit(),
    });
    return { acquired: true, value };
  } finally {
    await tx.close();
  }
}
