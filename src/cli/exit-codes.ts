/** Exit codes of `migration-lock`, documented in the README. */
export const EXIT = {
  /** Done: migrations applied or nothing pending; status shown. */
  OK: 0,
  /** A migration failed, the lock was lost, PostgreSQL rolled the work back, or drift was found (validate; run with --validate fail). */
  FAILED: 1,
  /** Bad usage or configuration: options, data source file, unreachable database, an engine whose locks lock nothing. */
  USAGE: 2,
  /** The lock wait timed out or was cancelled: retry later (EX_TEMPFAIL, for orchestrators). */
  RETRY: 75,
} as const;

const BY_CODE: Record<string, number> = {
  LOCK_TIMEOUT: EXIT.RETRY,
  LOCK_ABORTED: EXIT.RETRY,
  LOCK_WAIT_CANCELED: EXIT.RETRY,
  MIGRATION_FAILED: EXIT.FAILED,
  MIGRATION_DRIFT: EXIT.FAILED,
  TENANT_MIGRATIONS_FAILED: EXIT.FAILED,
  INVALID_TENANT_SCHEMA: EXIT.USAGE,
  INVALID_INDEX: EXIT.FAILED,
  LOCK_LOST: EXIT.FAILED,
  TRANSACTION_ROLLED_BACK: EXIT.FAILED,
  INVALID_OPTIONS: EXIT.USAGE,
  INVALID_LOCK_ARGUMENT: EXIT.USAGE,
  DATA_SOURCE_CONFIG: EXIT.USAGE,
  CLI_USAGE: EXIT.USAGE,
  DATABASE_UNREACHABLE: EXIT.USAGE,
  SESSION_LOCK_THROUGH_POOLER: EXIT.USAGE,
  LOCK_NOT_EXCLUSIVE: EXIT.USAGE,
};

/** Never 0 for an error: an unknown one is a failure. */
export function exitCodeFor(error: unknown): number {
  const code = (error as { code?: unknown })?.code;
  return (typeof code === 'string' && BY_CODE[code]) || EXIT.FAILED;
}
