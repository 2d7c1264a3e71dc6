import {
  LockAbortedError,
  LockNotExclusiveError,
  SessionLockThroughPoolerError,
} from '../errors/migration-lock.errors.js';
import { MigrationFailedError, type TenantFailure } from '../errors/migration.errors.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { MigrationHistory } from '../migration-runner/migration-history.js';
import { tenantMode, type TenantWork } from './tenant-schema-migration.js';

/**
 * Errors that are not one tenant's failure: the run was aborted, or its lock cannot lock here (a
 * session lock behind a pooler, an engine whose locks are not exclusive). Every other tenant would
 * fail the same way, so the run stops with the error instead.
 */
export function stopsTheRun(error: unknown): boolean {
  return (
    error instanceof LockAbortedError ||
    error instanceof SessionLockThroughPoolerError ||
    error instanceof LockNotExclusiveError
  );
}

/** A tenant's failure as events, state and TenantMigrationsFailedError carry it. */
export function tenantFailure(schema: string, error: unknown): TenantFailure {
  const code = codeOf(error);
  return {
    schema,
    ...(error instanceof MigrationFailedError ? { migration: error.migrationName } : {}),
    error: ((error as { cause?: Error }).cause ?? (error as Error)).message,
    ...(code ? { code } : {}),
  };
}

/**
 * The failed attempt in the history table (after the tenant's rollback), for `tenants status` in
 * another process: a row with `tenant` set, under the table's lock, as the shared runs' are.
 */
export function recordTenantFailure(
  locks: AdvisoryLockService,
  historyTable: string,
  work: TenantWork,
  attempt: { failure: TenantFailure; error: unknown; durationMs: number; timeoutMs: number },
): Promise<void> {
  const history = new MigrationHistory(work.dataSource, historyTable, tenantMode(work.migrations));
  return history.recordFailure(
    locks,
    {
      name: attempt.failure.migration ?? '',
      tenant: work.schema,
      durationMs: attempt.durationMs,
      error: attempt.error,
    },
    attempt.timeoutMs,
  );
}

/**
 * The code of a failure, for its record: the SQLSTATE (or code) of what the migration threw, or of
 * the error itself when no migration was at fault (a lock timeout, a missing schema).
 */
function codeOf(error: unknown): string | undefined {
  const source = error instanceof MigrationFailedError ? error.cause : error;
  const code = (source as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
