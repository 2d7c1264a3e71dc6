import { MigrationLockError } from './migration-lock.errors.js';
import { messages } from './migration-lock.messages.js';

/*
 * The errors of applying migrations, shared or per tenant schema; the lock's own errors and the
 * base class are in migration-lock.errors.ts.
 */

/** A migration's `up` threw. `migrationName` names it; `cause` is the original error. */
export class MigrationFailedError extends MigrationLockError {
  static readonly code = 'MIGRATION_FAILED';
  readonly code = MigrationFailedError.code;

  constructor(
    readonly migrationName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static create(migrationName: string, cause: unknown): MigrationFailedError {
    return new MigrationFailedError(migrationName, messages.migrationFailed(migrationName, cause), {
      cause,
    });
  }
}

/**
 * The migration history does not match the code, and the option `validate` says `'fail'` for what
 * was found (`changed`, `missing`, `outOfOrder`). Thrown before the lock is taken: nothing ran.
 */
export class MigrationDriftError extends MigrationLockError {
  static readonly code = 'MIGRATION_DRIFT';
  readonly code = MigrationDriftError.code;

  constructor(readonly findings: ReadonlyArray<{ readonly kind: string; readonly name: string }>) {
    super(messages.migrationDrift(findings));
  }
}

/** An index left invalid by an interrupted CREATE INDEX CONCURRENTLY, and how to repair it. */
export interface InvalidIndex {
  readonly schema: string;
  readonly name: string;
  readonly table: string;
  /** The statement that removes it, so that the migration building it can run again. */
  readonly repair: string;
}

/**
 * Invalid indexes were found under the migration lock: before running migrations (nothing ran),
 * or after a migration that ran outside a transaction (it was not recorded as applied).
 */
export class InvalidIndexError extends MigrationLockError {
  static readonly code = 'INVALID_INDEX';
  readonly code = InvalidIndexError.code;

  constructor(
    readonly indexes: readonly InvalidIndex[],
    readonly migrationName?: string,
  ) {
    super(messages.invalidIndexes(indexes, migrationName));
  }
}

/**
 * A tenant schema name that is not a plain identifier (letters, digits, `_`, `$`; at most 63
 * bytes; not `pg_…`). Thrown before any SQL: a name read from a table never reaches a statement.
 */
export class InvalidTenantSchemaError extends MigrationLockError {
  static readonly code = 'INVALID_TENANT_SCHEMA';
  readonly code = InvalidTenantSchemaError.code;

  static create(schema: unknown): InvalidTenantSchemaError {
    return new InvalidTenantSchemaError(messages.invalidTenantSchema(schema));
  }
}

/** A tenant schema that could not be brought up to date, and why. */
export interface TenantFailure {
  readonly schema: string;
  /** The migration that failed, when one did (not for a missing schema, say). */
  readonly migration?: string;
  readonly error: string;
  readonly code?: string;
}

/**
 * Tenant schemas failed to migrate (`tenants.onFailure: 'fail'`): every other tenant was finished
 * first; `failures` names each schema, its migration and its error.
 */
export class TenantMigrationsFailedError extends MigrationLockError {
  static readonly code = 'TENANT_MIGRATIONS_FAILED';
  readonly code = TenantMigrationsFailedError.code;

  constructor(
    readonly failures: readonly TenantFailure[],
    readonly total: number,
  ) {
    super(messages.tenantMigrationsFailed(failures, total));
  }
}
