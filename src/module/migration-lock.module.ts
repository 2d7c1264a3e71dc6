import { Module } from '@nestjs/common';
import { MigrationHealthIndicator } from '../health/migration.health.js';
import { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { MigrationBootstrap } from '../migration-runner/migration-bootstrap.service.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { MIGRATION_LOCK_DATA_SOURCE, MIGRATION_LOCK_OPTIONS } from './migration-lock.constants.js';
import type { MigrationLockDataSource } from './migration-lock-data-source.js';
import {
  MigrationLockConfigurableModule,
  MIGRATION_LOCK_MODULE_OPTIONS,
} from './migration-lock.module-definition.js';
import type {
  MigrationLockModuleOptions,
  ResolvedMigrationLockOptions,
} from './migration-lock-options.interface.js';
import { resolveModuleOptions } from './migration-lock-options.js';

/**
 * Runs TypeORM migrations under a PostgreSQL advisory lock before the application serves traffic,
 * and exposes AdvisoryLockService for other work that must run on one replica at a time.
 */
@Module({
  providers: [
    {
      provide: MIGRATION_LOCK_OPTIONS,
      inject: [MIGRATION_LOCK_MODULE_OPTIONS],
      useFactory: (options: MigrationLockModuleOptions) => resolveModuleOptions(options),
    },
    {
      provide: AdvisoryLockService,
      inject: [MIGRATION_LOCK_DATA_SOURCE, MIGRATION_LOCK_OPTIONS],
      useFactory: (host: MigrationLockDataSource, options: ResolvedMigrationLockOptions) =>
        new AdvisoryLockService(host.dataSource, {
          timeoutMs: options.timeoutMs,
          applicationName: options.applicationName,
        }),
    },
    {
      provide: MigrationRunnerService,
      inject: [MIGRATION_LOCK_DATA_SOURCE, AdvisoryLockService, MIGRATION_LOCK_OPTIONS],
      useFactory: (
        host: MigrationLockDataSource,
        locks: AdvisoryLockService,
        options: ResolvedMigrationLockOptions,
      ) => new MigrationRunnerService(host.dataSource, locks, options),
    },
    MigrationBootstrap,
    MigrationHealthIndicator,
  ],
  exports: [
    AdvisoryLockService,
    MigrationRunnerService,
    MigrationHealthIndicator,
    MIGRATION_LOCK_OPTIONS,
  ],
})
export class MigrationLockModule extends MigrationLockConfigurableModule {}
