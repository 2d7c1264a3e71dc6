import { Injectable, Logger } from '@nestjs/common';
import { MigrationExecutor, type DataSource, type QueryRunner } from 'typeorm';
import { MigrationFailedError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import type { ResolvedMigrationLockOptions } from '../module/migration-lock-options.interface.js';
import type { MigrationRunResult } from './migration-run-result.js';

type Migration = Awaited<ReturnType<MigrationExecutor['getPendingMigrations']>>[number];
export type MigrationRunnerOptions = Pick<
  ResolvedMigrationLockOptions,
  'lockId' | 'lockType' | 'timeoutMs' | 'transaction'
>;

/**
 * Applies pending TypeORM migrations under the migration lock, on the lock's own connection and
 * inside its transaction: lock and migrations commit (or roll back) together, with a pool of one.
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

  /** @throws MigrationFailedError (names the migration), LockTimeoutError, LockLostError, LockAbortedError */
  async run(options: { signal?: AbortSignal } = {}): Promise<MigrationRunResult> {
    // Rows in the migrations table commit with their migrations, so "nothing pending" seen without
    // the lock is safe to trust: followers then never queue behind the lock one by one.
    if ((await new MigrationExecutor(this.dataSource).getPendingMigrations()).length === 0) {
      return this.report({ outcome: 'followed', applied: [], waitedMs: 0, heldMs: 0 });
    }
    const { lockId, lockType, timeoutMs } = this.options;
    let heldSince = 0;
    const { applied, waitedMs } = await this.locks.withLock(
      lockId,
      lockType,
      async (manager, lock) => {
        heldSince = performance.now();
        // Re-read under the lock: whoever held it before may have applied everything.
        return { applied: await this.applyPending(manager.queryRunner!), waitedMs: lock.waitedMs };
      },
      { timeoutMs, signal: options.signal },
    );
    const heldMs = Math.round(performance.now() - heldSince);
    return this.report({
      outcome: applied.length > 0 ? 'applied' : 'followed',
      applied,
      waitedMs,
      heldMs,
    });
  }

  private async applyPending(queryRunner: QueryRunner): Promise<string[]> {
    const executor = new MigrationExecutor(this.dataSource, queryRunner);
    const pending = await executor.getPendingMigrations();
    this.checkTransactionOverrides(pending);
    const applied: string[] = [];
    for (const migration of pending) {
      const started = performance.now();
      try {
        await executor.executeMigration(migration);
      } catch (error) {
        throw MigrationFailedError.create(migration.name, error);
      }
      this.logger.log(`Applied ${migration.name} in ${Math.round(performance.now() - started)} ms`);
      applied.push(migration.name);
    }
    return applied;
  }

  /** A migration that opts out of transactions cannot run inside the single `all` transaction. */
  private checkTransactionOverrides(pending: Migration[]): void {
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
        ? `Applied ${result.applied.length} migration(s) under lock ${lock}: waited ${result.waitedMs} ms, held ${result.heldMs} ms`
        : `No pending migrations (followed)${result.heldMs ? `: waited ${result.waitedMs} ms for lock ${lock}, held ${result.heldMs} ms` : ''}`,
    );
    this.last = result;
    return result;
  }
}
