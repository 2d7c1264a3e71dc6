import { Injectable, Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { MigrationFailedError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import type { HeldLock } from '../lock/held-lock.js';
import type { PostgresQueryRunner } from '../lock/lock-connection.js';
import { commitOrThrow } from '../lock/lock-transaction.js';
import type {
  MigrationTransactionMode,
  ResolvedMigrationLockOptions,
} from '../module/migration-lock-options.interface.js';
import type { MigrationRunResult } from './migration-run-result.js';

type Migration = Awaited<ReturnType<MigrationExecutor['getPendingMigrations']>>[number];
export type MigrationRunnerOptions = Pick<
  ResolvedMigrationLockOptions,
  'lockId' | 'lockType' | 'timeoutMs' | 'transaction'
>;

/** Whether a migration runs in its own transaction in a step-by-step mode, unless it says otherwise. */
const OWN_TRANSACTION_BY_DEFAULT: Record<Exclude<MigrationTransactionMode, 'all'>, boolean> = {
  each: true,
  none: false,
};

/**
 * Applies pending TypeORM migrations under the migration lock, always on the lock's own
 * connection: in mode `all` inside the lock's transaction (lock and migrations commit or roll back
 * together, with a pool of one), in `each` / `none` under the session-level lock, step by step.
 */
@Injectable()
export class MigrationRunnerService {
  private readonly logger = new Logger('MigrationLock');
  private last: MigrationRunResult | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly locks: AdvisoryLockService,
    private readonly options: MigrationRunnerOptions,
  ) {}

  /** What the last successful run() did, if any. */
  get lastResult(): MigrationRunResult | undefined {
    return this.last;
  }

  /**
   * Aborting `signal` while waiting stops the wait; while migrating, `all` rolls everything back and
   * `each` / `none` finish the current migration and stop before the next.
   * @throws MigrationFailedError (names the migration), LockTimeoutError, LockLostError, LockAbortedError
   */
  async run(options: { signal?: AbortSignal } = {}): Promise<MigrationRunResult> {
    // Rows in the migrations table commit with their migrations, so "nothing pending" seen without
    // the lock is safe to trust: followers then never queue behind the lock one by one.
    if ((await new MigrationExecutor(this.dataSource).getPendingMigrations()).length === 0) {
      return this.report({ outcome: 'followed', applied: [], waitedMs: 0, heldMs: 0 });
    }
    const { lockId, lockType, timeoutMs, transaction } = this.options;
    const lockOptions = { timeoutMs, signal: options.signal };
    let heldSince = 0;
    // Re-read under the lock: whoever held it before may have applied everything.
    const underLock = async (queryRunner: QueryRunner, lock: HeldLock) => {
      heldSince = performance.now();
      return {
        applied: await this.applyPending(queryRunner as PostgresQueryRunner, lock),
        waitedMs: lock.waitedMs,
      };
    };
    const { applied, waitedMs } =
      transaction === 'all'
        ? await this.locks.withLock(
            lockId,
            lockType,
            (manager, lock) => underLock(manager.queryRunner!, lock),
            lockOptions,
          )
        : await this.locks.withSessionLock(lockId, lockType, underLock, lockOptions);
    const heldMs = Math.round(performance.now() - heldSince);
    return this.report({
      outcome: applied.length > 0 ? 'applied' : 'followed',
      applied,
      waitedMs,
      heldMs,
    });
  }

  private async applyPending(queryRunner: PostgresQueryRunner, lock: HeldLock): Promise<string[]> {
    const executor = new MigrationExecutor(this.dataSource, queryRunner);
    const pending = await executor.getPendingMigrations();
    this.checkTransactionOverrides(pending);
    const applied: string[] = [];
    for (const migration of pending) {
      // Stop between migrations when aborted (shutdown) or when the lock's connection is gone.
      if (lock.signal.aborted) break;
      const started = performance.now();
      await this.applyOne(executor, queryRunner, migration);
      this.logger.log(`Applied ${migration.name} in ${Math.round(performance.now() - started)} ms`);
      applied.push(migration.name);
    }
    return applied;
  }

  private async applyOne(
    executor: MigrationExecutor,
    queryRunner: PostgresQueryRunner,
    migration: Migration,
  ): Promise<void> {
    const { transaction } = this.options;
    const ownTransaction =
      transaction !== 'all' &&
      (migration.instance?.transaction ?? OWN_TRANSACTION_BY_DEFAULT[transaction]);
    try {
      if (ownTransaction) await queryRunner.startTransaction();
      await executor.executeMigration(migration);
      if (ownTransaction) await commitOrThrow(queryRunner, migration.name);
    } catch (error) {
      if (ownTransaction && queryRunner.isTransactionActive)
        await queryRunner.rollbackTransaction().catch(() => undefined);
      throw MigrationFailedError.create(migration.name, error);
    }
  }

  /** A migration that opts out of transactions cannot run inside the single `all` transaction. */
  private checkTransactionOverrides(pending: Migration[]): void {
    if (this.options.transaction !== 'all') return;
    const optedOut = pending.find((migration) => migration.instance?.transaction === false);
    if (optedOut) {
      throw new MigrationFailedError(
        optedOut.name,
        messages.transactionOverride(optedOut.name, this.options.transaction),
      );
    }
  }

  private report(result: MigrationRunResult): MigrationRunResult {
    const lock = `"${this.options.lockId}/${this.options.lockType}"`;
    this.logger.log(
      result.outcome === 'applied'
        ? `Applied ${result.applied.length} migration(s) under lock ${lock} (transaction: ${this.options.transaction}): waited ${result.waitedMs} ms, held ${result.heldMs} ms`
        : `No pending migrations (followed)${result.heldMs ? `: waited ${result.waitedMs} ms for lock ${lock}, held ${result.heldMs} ms` : ''}`,
    );
    this.last = result;
    return result;
  }
}
