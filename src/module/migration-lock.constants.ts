/** Injection token of the options as given to forRoot / returned by the forRootAsync factory. */
export const MIGRATION_LOCK_MODULE_OPTIONS = 'MIGRATION_LOCK_MODULE_OPTIONS';

/** Injection token of the validated options, defaults filled in (ResolvedMigrationLockOptions). */
export const MIGRATION_LOCK_OPTIONS = Symbol('MIGRATION_LOCK_OPTIONS');

/** Injection token of the MigrationLockDataSource the module's services run on. */
export const MIGRATION_LOCK_DATA_SOURCE = Symbol('MIGRATION_LOCK_DATA_SOURCE');
