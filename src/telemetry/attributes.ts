/*
 * Span and metric attribute keys. OpenTelemetry's database conventions where they apply
 * (db.system.name, db.namespace); ours, under migration_lock., for locks, migrations and jobs,
 * which no convention covers yet.
 */
export const DB_SYSTEM_NAME = 'db.system.name';
export const DB_NAMESPACE = 'db.namespace';
export const LOCK_ID = 'migration_lock.lock.id';
export const LOCK_TYPE = 'migration_lock.lock.type';
/** The two int4 of the lock key, as pg_advisory_xact_lock takes them. */
export const LOCK_KEYS = 'migration_lock.lock.keys';
export const MODE = 'migration_lock.mode';
export const OUTCOME = 'migration_lock.outcome';
export const MIGRATION_NAME = 'migration_lock.migration.name';
export const PENDING_COUNT = 'migration_lock.migrations.pending';
export const APPLIED_COUNT = 'migration_lock.migrations.applied';
export const WAITED_MS = 'migration_lock.waited_ms';
export const HELD_MS = 'migration_lock.held_ms';
export const HOLDER_PID = 'migration_lock.holder.pid';
export const HOLDER_APPLICATION_NAME = 'migration_lock.holder.application_name';
export const HOLDER_HELD_MS = 'migration_lock.holder.held_ms';
export const JOB_NAME = 'migration_lock.job.name';
export const JOB_PERIOD_START = 'migration_lock.job.period_start';
/** A lock failure's kind on the failures counter: timeout, lost or aborted. */
export const FAILURE_KIND = 'migration_lock.failure.kind';

/** The value of db.system.name for PostgreSQL. */
export const POSTGRESQL = 'postgresql';
