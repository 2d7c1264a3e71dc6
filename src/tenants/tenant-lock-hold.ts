import type { EntityManager, QueryRunner } from 'typeorm';
import type { PostgresQueryRunner } from '../connection/lock-connection.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { tenantLockName } from './tenant-lock-key.js';
import {
  migrateTenantInTransaction,
  migrateTenantStepByStep,
  tenantMode,
  type TenantWork,
} from './tenant-schema-migration.js';

/** How a tenant's lock is taken: tried (a tenant another replica holds is left for later) or waited for. */
export interface TenantHold {
  readonly wait: boolean;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * The tenant's lock taken (or tried, when `wait` is false) and its work done under it: in mode
 * `all` inside the lock's transaction, in `each` on the session-level lock's own connection.
 * Resolves to the migrations applied, or undefined when another replica holds it and `wait` is false.
 */
export async function migrateUnderTenantLock(
  locks: AdvisoryLockService,
  lock: { readonly id: string; readonly type: string },
  work: TenantWork,
  how: TenantHold,
): Promise<string[] | undefined> {
  const [id, type] = tenantLockName(lock.id, lock.type, work.schema);
  const { signal } = how;
  const waitOptions = { timeoutMs: how.timeoutMs, ...(signal ? { signal } : {}) };
  const tryOptions = signal ? { signal } : {};
  if (tenantMode(work.migrations) === 'all') {
    const inTransaction = (manager: EntityManager) =>
      migrateTenantInTransaction(manager.queryRunner!, work);
    if (how.wait) return locks.withLock(id, type, inTransaction, waitOptions);
    const tried = await locks.tryWithLock(id, type, inTransaction, tryOptions);
    return tried.acquired ? tried.value : undefined;
  }
  const stepByStep = (queryRunner: QueryRunner) =>
    migrateTenantStepByStep(queryRunner as PostgresQueryRunner, work);
  if (how.wait) return locks.withSessionLock(id, type, stepByStep, waitOptions);
  const tried = await locks.trySessionLock(id, type, stepByStep, tryOptions);
  return tried.acquired ? tried.value : undefined;
}
