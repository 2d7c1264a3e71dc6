import type { DataSource } from 'typeorm';
import type { HeldLock } from '../lock/advisory-lock.interfaces.js';
import type { AdvisoryLockService, LockMode } from '../lock/advisory-lock.service.js';
import { answerBoundMs, type PostgresQueryRunner } from '../lock/lock-connection.js';
import type { LockIdentity, LockRequest } from '../lock/lock-request.js';
import type { MigrationStateTracker } from './migration-events.js';
import type {
  MigrationRunnerOptions,
  MigrationTransactionMode,
} from './migration-runner.options.js';
import { appliedNamesSql } from './migrations-table.sql.js';
import { appliedNamesIn, notApplied, pendingMigrationNames } from './pending-migrations.js';

/** Work done while holding the migration lock: resolves to the names of what it applied. */
export type LockedMigrationWork = (
  queryRunner: PostgresQueryRunner,
  lock: HeldLock,
) => Promise<string[]>;

/** What a run that held the lock did, and how long it waited and held. */
export interface HeldMigrationRun {
  readonly applied: string[];
  readonly waitedMs: number;
  readonly heldMs: number;
}

/** `all` runs inside the lock's transaction; `each` and `none` commit step by step under the session lock. */
const LOCK_FORM: Record<MigrationTransactionMode, LockMode['form']> = {
  all: 'transaction',
  each: 'session',
  none: 'session',
};

interface MigrationRunContext {
  /** The migration lock, checked once by the runner. */
  readonly lock: LockIdentity;
  readonly dataSource: DataSource;
  readonly locks: AdvisoryLockService;
  readonly options: MigrationRunnerOptions;
  readonly tracker: MigrationStateTracker;
}

/**
 * One call of run() or revert() on the migration lock: waits for the lock, holds it or follows its
 * holder, and reports every step to the state tracker. One per call, so a call's wait is its own.
 */
export class MigrationRun {
  private readonly waitStartedAt = performance.now();
  private readonly lockName: string;

  private constructor(private readonly context: MigrationRunContext) {
    this.lockName = `${context.options.lockId}/${context.options.lockType}`;
  }

  /** Starts waiting for the lock (the tracker shows `waiting` from now on). */
  static start(context: MigrationRunContext): MigrationRun {
    const run = new MigrationRun(context);
    context.tracker.update('waiting');
    context.tracker.emit('waitStarted', { lock: run.lockName });
    return run;
  }

  /** ms since this run started waiting. */
  waitedMs(): number {
    return Math.round(performance.now() - this.waitStartedAt);
  }

  /**
   * Takes the lock when it is free; otherwise waits until the holder is done (mode `all`: a shared
   * wait that lets every waiter go at once; `each` / `none`: the holder's release NOTIFY) and looks
   * at the migrations table again. Waiters then follow together instead of being handed the lock
   * one by one. Resolves undefined when followed.
   */
  async holdOrFollow(
    work: LockedMigrationWork,
    signal: AbortSignal | undefined,
  ): Promise<HeldMigrationRun | undefined> {
    const { timeoutMs } = this.context.options;
    const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    for (;;) {
      // 0 means "forever" to the server; a spent budget waits 1 ms and times out naming the holder.
      const remaining = timeoutMs === 0 ? 0 : Math.max(1, Math.round(deadline - performance.now()));
      const attempt = await this.lock('follow', work, remaining, signal);
      if (attempt.acquired) return this.released(attempt.value);
      if ((await this.pendingAfterRelease(attempt.readAfterRelease)).length === 0) return undefined;
    }
  }

  /**
   * What is still pending once the holder is done: from the rows read in the round trip that ended
   * the wait (mode `all`), or read now (`each` / `none`, or no migrations table after the wait).
   */
  private pendingAfterRelease(
    readAfterRelease: ReadonlyArray<Record<string, unknown>> | undefined,
  ): Promise<string[]> | string[] {
    const { dataSource, options } = this.context;
    if (readAfterRelease) return notApplied(dataSource, appliedNamesIn(readAfterRelease));
    return pendingMigrationNames(dataSource, answerBoundMs(options.timeoutMs));
  }

  /** Runs `work` holding the migration lock, waiting in line for it. */
  async inLine(
    work: LockedMigrationWork,
    signal: AbortSignal | undefined,
  ): Promise<HeldMigrationRun> {
    const attempt = await this.lock('wait', work, this.context.options.timeoutMs, signal);
    if (!attempt.acquired) throw new Error('unreachable: the wait only ends with the lock');
    return this.released(attempt.value);
  }

  /** The lock in the form of the run's transaction mode, with `work` on the lock's own QueryRunner. */
  private lock(
    whenHeld: 'wait' | 'follow',
    work: LockedMigrationWork,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ) {
    const { locks, options, dataSource } = this.context;
    const form = LOCK_FORM[options.transaction];
    // The transaction form's shared wait reads the migrations table in the round trip that ends it.
    const thenRead =
      form === 'transaction' && whenHeld === 'follow' ? appliedNamesSql(dataSource) : undefined;
    const mode = { form, whenHeld, thenRead } as LockMode;
    // The signal was checked by run() or revert(), the timeout is the runner's checked option.
    const request: LockRequest = { ...this.context.lock, signal, timeoutMs };
    return locks.hold(mode, request, (queryRunner, lock) =>
      this.whileHeld(queryRunner as PostgresQueryRunner, lock, work),
    );
  }

  /** Marks the lock as held and runs `work`. */
  private async whileHeld(
    queryRunner: PostgresQueryRunner,
    lock: HeldLock,
    work: LockedMigrationWork,
  ): Promise<{ applied: string[]; waitedMs: number; heldSince: number }> {
    const heldSince = performance.now();
    const waitedMs = this.waitedMs();
    this.context.tracker.update('migrating', { waitedMs });
    this.context.tracker.emit('lockAcquired', { lock: this.lockName, waitedMs });
    return { applied: await work(queryRunner, lock), waitedMs, heldSince };
  }

  /** After the lock's commit or unlock: reports the release and how long the lock was held. */
  private released(held: {
    applied: string[];
    waitedMs: number;
    heldSince: number;
  }): HeldMigrationRun {
    const heldMs = Math.round(performance.now() - held.heldSince);
    this.context.tracker.emit('lockReleased', { lock: this.lockName, heldMs });
    return { applied: held.applied, waitedMs: held.waitedMs, heldMs };
  }
}
