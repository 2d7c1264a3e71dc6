// The public API of nestjs-migration-lock: everything a user imports comes from here.
export { MigrationLockModule } from './module/migration-lock.module.js';
export type { MigrationLockModuleAsyncOptions } from './module/migration-lock.module-definition.js';
// The options of the default registration as the module resolved them (defaults filled in).
export { MIGRATION_LOCK_OPTIONS } from './module/migration-lock.constants.js';
export {
  getAdvisoryLockServiceToken,
  getMigrationHealthIndicatorToken,
  getMigrationRunnerToken,
  InjectAdvisoryLockService,
  getTenantMigrationServiceToken,
  InjectMigrationHealthIndicator,
  InjectMigrationRunner,
  InjectTenantMigrationService,
} from './module/migration-lock.tokens.js';
export type {
  MigrationLockEvents,
  MigrationLockModuleExtras,
  MigrationLockModuleOptions,
  MigrationTransactionMode,
  ResolvedMigrationLockOptions,
} from './module/interfaces/migration-lock-options.interface.js';
export { AdvisoryLockService } from './lock/advisory-lock.service.js';
export { AdvisoryLockContext } from './lock/held-locks.js';
export { WithAdvisoryLock } from './jobs/with-advisory-lock.decorator.js';
export type { WithAdvisoryLockOptions } from './jobs/locked-job.js';
export type {
  HeldLock,
  LockedWork,
  SessionLockedWork,
  TryLockResult,
} from './lock/advisory-lock.interfaces.js';
export type { LockSession, LockSession as LockHolder } from './errors/lock-session.js';
export { advisoryLockKey, type AdvisoryLockKey } from './lock/lock-key.js';
export type {
  AdvisoryLockDefaults,
  TryWithLockOptions,
  WithLockOptions,
} from './lock/advisory-lock.interfaces.js';
export {
  MigrationRunnerService,
  type ChecksumStatus,
  type DryRunResult,
  type FailedAttempt,
  type HistoryEntry,
  type MigrationHistoryReport,
  type MigrationRunnerOptions,
  type ValidationResult,
} from './migration-runner/migration-runner.service.js';
export type { DriftFinding } from './history/drift.js';
export type { DriftCheck, DriftLevel, ValidateOption } from './history/history-options.js';
export { isRecordingQueryRunner, type SentStatement } from './history/migration-checksum.js';
export type { MigrationRunResult } from './migration-runner/migration-run-result.js';
export type {
  MigrationEvents,
  MigrationPhase,
  MigrationState,
  WaitOutcome,
} from './migration-runner/migration-events.js';
export type { LockedJobEvents } from './jobs/locked-job.js';
export { TenantMigrationService } from './tenants/tenant-migration.service.js';
export type { TenantEvents, TenantsOptions, TenantsResult } from './tenants/tenants.options.js';
export { tenantLockKey } from './tenants/tenant-lock-key.js';
export { MigrationHealthIndicator, type MigrationHealthResult } from './health/migration.health.js';
export type { LockStatus } from './status/lock-status.js';
export { readLockStatus } from './status/lock-status.js';
export {
  DataSourceConfigError,
  InvalidLockArgumentError,
  InvalidOptionsError,
  JobNotRegisteredError,
  LockAbortedError,
  LockLostError,
  LockNotExclusiveError,
  LockTimeoutError,
  LockWaitCanceledError,
  MigrationLockError,
  NoLockHeldError,
  SessionLockThroughPoolerError,
  TestDatabaseThroughPoolerError,
  TransactionRolledBackError,
} from './errors/migration-lock.errors.js';
export {
  InvalidIndexError,
  InvalidTenantSchemaError,
  MigrationDriftError,
  MigrationFailedError,
  TenantMigrationsFailedError,
  type InvalidIndex,
  type TenantFailure,
} from './errors/migration.errors.js';
