import type { Notification } from 'pg';
import type { DataSource } from 'typeorm';
import { assertDirectConnection } from '../connection/backend-key.js';
import { answerBoundMs } from '../connection/connection-loss.js';
import {
  isOutsideTransaction,
  LockConnection,
  type PostgresQueryRunner,
} from '../connection/lock-connection.js';
import type { SessionWaitEnd } from './advisory-lock.interfaces.js';
import type { LockConnectionSettings } from './advisory-lock.sql.js';
import {
  announceAndReleaseSql,
  announceReleaseSql,
  prepareAndTrySessionLockSql,
  RELEASE_ANNOUNCED,
  RESET_SESSION_SQL,
  releaseChannel,
  ROUND_TRIP_SQL,
  trySessionLockSql,
  unlockAndNotifySql,
} from './session-lock.sql.js';
import { assertExclusive } from './lock-failures.js';
import type { LockRequest } from './lock-request.js';

type TryResults = Array<{ rows: Array<{ acquired?: boolean }> }>;
type UnlockResults = Array<{ rows: Array<{ released?: boolean }> }>;

/** Slow poll for a holder that died without announcing its release (kill -9, lost network). */
export const SESSION_LOCK_POLL_MS = 200;

/** How long a poll that got the lock waits for the holder's announcement (releaseWasAnnounced). */
const ANNOUNCEMENT_GRACE_MS = 100;

/**
 * A session-level advisory lock (`pg_advisory_lock`) on a dedicated connection, for work that
 * manages its own transactions (migrations in transaction mode `each` / `none`). The work runs on
 * this same connection, so if the connection dies the lock and the running statement die together.
 *
 * Waiting is `pg_try_advisory_lock`, woken by the holder's NOTIFY at release (milliseconds), with a
 * slow poll as the fallback: no waiter sits in a lock statement holding a snapshot.
 */
export class SessionLock {
  private current: LockConnection | undefined;
  private notified: ((payload: string | undefined) => void) | undefined;
  private readonly channel: string;
  private readonly onNotification = (message: Notification) => {
    if (message.channel === this.channel) this.notified?.(message.payload);
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly request: LockRequest,
    private readonly settings: LockConnectionSettings,
  ) {
    this.channel = releaseChannel(request.key);
  }

  /** The lock's connection, once acquire() prepared one. */
  get connection(): LockConnection {
    return this.current!;
  }

  /** The lock's connection, or undefined before acquire() got one. */
  get opened(): LockConnection | undefined {
    return this.current;
  }

  get queryRunner(): PostgresQueryRunner {
    return this.connection.queryRunner;
  }

  /**
   * Waits for the lock; resolves to how the wait ended. `follow`: a release announced by the holder
   * ends the wait instead of a new try; `try`: no wait at all after the first try.
   */
  async acquire(
    signal: AbortSignal | undefined,
    whenHeld: 'wait' | 'try' | 'follow',
  ): Promise<SessionWaitEnd> {
    const stopOnRelease = whenHeld === 'follow';
    const { timeoutMs } = this.request;
    const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    // Listening before the first try: a release in between is not missed.
    const woken = this.nextWake(stopOnRelease);
    const answerWithinMs = answerBoundMs(timeoutMs);
    const [connection, first] = await LockConnection.open(
      this.dataSource,
      this.prepare,
      answerWithinMs,
    );
    this.current = connection;
    if (first.at(-1)?.rows[0]?.acquired === true) {
      await assertExclusive(connection.client, this.dataSource, 'session', this.request);
      return 'taken';
    }
    if (whenHeld === 'try') return 'busy';
    // A server that stops answering a poll well past the deadline has the connection closed,
    // which ends the wait.
    return connection.answeredWithin(
      answerWithinMs,
      this.poll(deadline, signal, stopOnRelease, woken),
    );
  }

  /** acquire()'s polls, woken by the holder's notices, until the lock is held or the wait ends. */
  private async poll(
    deadline: number,
    signal: AbortSignal | undefined,
    stopOnRelease: boolean,
    firstWake: Promise<'released'>,
  ): Promise<SessionWaitEnd> {
    let woken = firstWake;
    const aborted = onAbort(signal);
    const lost = onAbort(this.connection.lostSignal);
    let acquired = false;
    while (!acquired) {
      const remaining = deadline - performance.now();
      if (signal?.aborted) return 'aborted';
      if (remaining <= 0) return 'timeout';
      // The connection's end wakes the wait too: nothing else would (the loss settles no query).
      const wake = await Promise.race([
        woken,
        delay(Math.min(SESSION_LOCK_POLL_MS, remaining)),
        aborted,
        lost,
      ]);
      if (this.connection.lostCause) throw this.connection.lostCause;
      if (wake === 'released' && stopOnRelease) return 'released';
      woken = this.nextWake(stopOnRelease);
      const { rows } = await this.connection.client.query<{ acquired: boolean }>(
        trySessionLockSql(this.request.key),
      );
      acquired = rows[0].acquired;
      if (acquired && stopOnRelease && (await this.releaseWasAnnounced(woken))) {
        await this.connection.client.query(unlockAndNotifySql(this.request.key));
        return 'released';
      }
    }
    return 'held';
  }

  /**
   * A poll that gets the lock: did the holder finish normally (followed, not replaced)? A holder
   * announces before it unlocks (release()): one more round trip usually lets its notice through,
   * and a short bounded wait catches one signalled late (on a loaded machine a follower kept the
   * lock it polled, as if the holder had died). Without a notice, the poll's lock stands.
   */
  private async releaseWasAnnounced(woken: Promise<'released'>): Promise<boolean> {
    await this.connection.client.query(ROUND_TRIP_SQL);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ANNOUNCEMENT_GRACE_MS);
    });
    try {
      return await Promise.race([woken.then(() => true), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The first round trip, on each connection LockConnection.open tries: before anything touches
   * the session, a pooler is refused (a session lock there is not ours to hold).
   */
  private readonly prepare = async ({ client }: LockConnection): Promise<TryResults> => {
    await assertDirectConnection(client, this.request.name);
    client.on('notification', this.onNotification);
    try {
      const sql = prepareAndTrySessionLockSql(this.request.key, this.settings);
      return (await client.query(sql)) as unknown as TryResults;
    } catch (error) {
      client.removeListener('notification', this.onNotification);
      throw error;
    }
  };

  /**
   * Announces the release (followers stop waiting), releases the lock and wakes the waiters in line
   * (they need it free when they try), then gives the connection back reset (its session settings
   * and LISTEN must not reach the pool). Resolves false when the server says the lock was not held.
   * One round trip when the connection is known to be outside a transaction, else two: the
   * announcement alone, then the unlock.
   */
  async release(): Promise<boolean> {
    const { client } = this.connection;
    const { key } = this.request;
    client.removeListener('notification', this.onNotification);
    let released = false;
    if (!this.connection.lostCause) {
      const results = await (
        isOutsideTransaction(client)
          ? client.query(announceAndReleaseSql(key))
          : client.query(announceReleaseSql(key)).then(() => client.query(unlockAndNotifySql(key)))
      ).then(
        (answer) => answer as unknown as UnlockResults,
        () => [] as UnlockResults,
      );
      released = results.some((result) => result.rows[0]?.released === true);
    }
    await this.resetAndRelease();
    return released;
  }

  /** Gives up a wait (or a failed acquisition): nothing is held; the connection goes back reset. */
  async abandon(): Promise<void> {
    if (!this.current) return;
    this.connection.client.removeListener('notification', this.onNotification);
    await this.resetAndRelease();
  }

  /** Pooled again only once reset; a connection that cannot be reset is closed instead. */
  private async resetAndRelease(): Promise<void> {
    if (this.connection.lostCause) return this.connection.release();
    try {
      await this.connection.client.query(RESET_SESSION_SQL);
    } catch (error) {
      return this.connection.release({ destroy: error as Error });
    }
    // DISCARD ALL reset the server probes too.
    this.connection.serverProbes = false;
    await this.connection.release();
  }

  /**
   * Resolves at the next release notice that wakes this wait. Waiters in line need the lock free:
   * the holder's announcement, sent while it still holds the lock, does not wake them (its
   * unlock's notice does). Followers (`stopOnRelease`) stop at the announcement.
   */
  private nextWake(stopOnRelease: boolean): Promise<'released'> {
    return new Promise((resolve) => {
      this.notified = (payload) => {
        if (stopOnRelease || payload !== RELEASE_ANNOUNCED) resolve('released');
      };
    });
  }
}

/** Not unref'd: a process waiting for the lock has work pending and must not exit in silence. */
function delay(ms: number): Promise<'poll'> {
  return new Promise((resolve) => setTimeout(() => resolve('poll'), ms));
}

function onAbort(signal: AbortSignal | undefined): Promise<'aborted'> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) =>
    signal?.addEventListener('abort', () => resolve('aborted'), { once: true }),
  );
}
