import type { DataSource, QueryRunner } from 'typeorm';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import type { HeldLock } from '../lock/advisory-lock.interfaces.js';
import type { PostgresQueryRunner } from '../lock/lock-connection.js';
import type { MigrationStateTracker } from './migration-events.js';
import type { MigrationRunnerOptions } from './migration-runner.options.js';
import { pendingMigrationNames } from './pending-migrations.js';

/** Work done while holding the migration lock: resolves to the names of what it applied. */
export type LockedMigrationWork = (
  queryRunner: PostgresQueryRunner,
  lock: HeldLock,
) => Promise<string[]>;

/**
 * How a run holds the migration lock, reporting every step to the state tracker: in line for it,
 * or (mode `all`) taking it only when free and otherwise following the holder.
 */
export class MigrationLockHolding {
  constructor(
    private readonly dataSource: DataSource,
    private readonly locks: AdvisoryLockService,
    private readonly options: MigrationRunnerOptions,
    private readonly tracker: MigrationStateTracker,
  ) {}

  private waitStartedAt = 0;

  /** ms since this run started waiting. */
  waitedSince(): number {
    return Math.round(performance.now() - this.waitStartedAt);
  }

  private startWaiting(): string {
    const lockName = `${this.options.lockId}/${this.options.lockType}`;
    this.waitStartedAt = performance.now();
    this.tracker.update('waiting');
    this.tracker.emit('waitStarted', { lock: lockName });
    return lockName;
  }

  /** Marks the lock as held and runs `work`; resolves with how long it was held. */
  private async whileHeld(
    lockName: string,
    queryRunner: QueryRunner,
    lock: HeldLock,
    work: LockedMigrationWork,
  ): Promise<{ applied: string[]; waitedMs: number; heldSince: number }> {
    const heldSince = performance.now();
    const waitedMs = this.waitedSince();
    this.tracker.update('migrating', { waitedMs });
    this.tracker.emit('lockAcquired', { lock: lockName, waitedMs });
    // Re-read under the lock: whoever held it before may have applied everything.
    return { applied: await work(queryRunner as PostgresQueryRunner, lock), waitedMs, heldSince };
  }

  private released(
    lockName: string,
    result: { applied: string[]; waitedMs: number; heldSince: number },
  ) {
    const heldMs = Math.round(performance.now() - result.heldSince);
    this.tracker.emit('lockReleased', { lock: lockName, heldMs });
    return { applied: result.applied, waitedMs: result.waitedMs, heldMs };
  }

  /**
   * Takes the lock when it is free; otherwise waits until the holder is done (mode `all`: a shared
   * wait that lets every waiter go at once; `each` / `none`: the holder's release NOTIFY) and looks
   * at the migrations table again. Waiters then follow together instead of being handed the lock
   * one by one. Resolves undefined when followed.
   */
  async holdOrFollow(work: LockedMigrationWork, signal: AbortSignal | undefined) {
    const { lockId, lockType, timeoutMs, transaction } = this.options;
    const lockName = this.startWaiting();
    const held = (queryRunner: QueryRunner, lock: HeldLock) =>
      this.whileHeld(lockName, queryRunner, lock, work);
    const deadline = timeoutMs === 0 ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    for (;;) {
      // 0 means "forever" to the server; a spent budget waits 1 ms and times out naming the holder.
      const remaining = timeoutMs === 0 ? 0 : Math.max(1, Math.round(deadline - performance.now()));
      const lockOptions = { timeoutMs: remaining, signal };
      const attempt =
        transaction === 'all'
          ? await this.locks.tryWithLockOrWait(
              lockId,
              lockType,
              (manager, lock) => held(manager.queryRunner!, lock),
              lockOptions,
            )
          : await this.locks.withSessionLockOrWait(lockId, lockType, held, lockOptions);
      if (attempt.acquired) return this.released(lockName, attempt.value);
      if ((await pendingMigrationNames(this.dataSource)).length === 0) return undefined;
    }
  }

  /** Runs `work` holding the migration lock in the configured mode, waiting in line for it. */
  async inLine(work: LockedMigrationWork, signal: AbortSignal | undefined) {
    const { lockId, lockType, timeoutMs, transaction } = this.options;
    const lockName = this.startWaiting();
    const held = (queryRunner: QueryRunner, lock: HeldLock) =>
      this.whileHeld(lockName, queryRunner, lock, work);
    const lockOptions = { timeoutMs, signal };
    const result =
      transaction === 'all'
        ? await this.locks.withLock(
            lockId,
            lockType,
            (manager, lock) => held(manager.queryRunner!, lock),
            lockOptions,
          )
        : await this.locks.withSessionLock(lockId, lockType, held, lockOptions);
    return this.released(lockName, result);
  }
}
