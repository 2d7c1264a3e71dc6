import type { FactoryProvider, Provider } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import { DataSourceConfigError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { MigrationHealthIndicator } from '../health/migration.health.js';
import { LockedJobRunner } from '../jobs/locked-job.runner.js';
import { LockedJobsExplorer } from '../jobs/locked-jobs.explorer.js';
import { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { TenantMigrationService } from '../tenants/tenant-migration.service.js';
import { MigrationBootstrap } from './migration-lock.bootstrap.js';
import {
  MIGRATION_LOCK_DATA_SOURCE,
  MIGRATION_LOCK_MODULE_OPTIONS,
  MIGRATION_LOCK_OPTIONS,
} from './migration-lock.constants.js';
import { MigrationLockDataSource } from './migration-lock-data-source.js';
import type {
  MigrationLockModuleOptions,
  ResolvedMigrationLockOptions,
} from './interfaces/migration-lock-options.interface.js';
import { resolveModuleOptions } from './resolve-options.js';
import { exportedServiceTokens, nestTypeormDataSourceToken } from './migration-lock.tokens.js';

/** The providers of one registration: options → DataSource → lock service → runner → hooks. */
export function migrationLockProviders(dataSourceName: string | undefined): Provider[] {
  const aliases = exportedServiceTokens(dataSourceName)
    .filter(({ service, token }) => service !== token)
    .map(({ service, token }) => ({ provide: token, useExisting: service }));
  return [
    {
      provide: MIGRATION_LOCK_OPTIONS,
      inject: [MIGRATION_LOCK_MODULE_OPTIONS],
      useFactory: (options: MigrationLockModuleOptions) => resolveModuleOptions(options),
    },
    dataSourceProvider(dataSourceName),
    {
      provide: AdvisoryLockService,
      inject: [MIGRATION_LOCK_DATA_SOURCE, MIGRATION_LOCK_OPTIONS],
      useFactory: (host: MigrationLockDataSource, options: ResolvedMigrationLockOptions) =>
        new AdvisoryLockService(host.dataSource, {
          timeoutMs: options.timeoutMs,
          ...(host.direct ? { sessionDataSource: host.direct } : {}),
          ...(options.applicationName === undefined
            ? {}
            : { applicationName: options.applicationName }),
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
    {
      provide: TenantMigrationService,
      inject: [
        MIGRATION_LOCK_DATA_SOURCE,
        AdvisoryLockService,
        MIGRATION_LOCK_OPTIONS,
        MigrationRunnerService,
      ],
      useFactory: (
        host: MigrationLockDataSource,
        locks: AdvisoryLockService,
        options: ResolvedMigrationLockOptions,
        runner: MigrationRunnerService,
      ) =>
        new TenantMigrationService(
          host.dataSource,
          locks,
          {
            id: options.lockId,
            type: options.lockType,
            timeoutMs: options.timeoutMs,
            historyTable: options.historyTable,
          },
          options.tenants,
          options.events,
          (result) => runner.noteTenants(result),
        ),
    },
    MigrationBootstrap,
    {
      provide: MigrationHealthIndicator,
      inject: [MigrationRunnerService, MIGRATION_LOCK_OPTIONS],
      useFactory: (runner: MigrationRunnerService, options: ResolvedMigrationLockOptions) =>
        new MigrationHealthIndicator(runner, options.runOnBootstrap),
    },
    {
      provide: LockedJobRunner,
      inject: [AdvisoryLockService, MIGRATION_LOCK_OPTIONS],
      useFactory: (locks: AdvisoryLockService, options: ResolvedMigrationLockOptions) =>
        new LockedJobRunner(locks, options.jobRunsTable, options.events),
    },
    {
      provide: LockedJobsExplorer,
      inject: [DiscoveryService, LockedJobRunner],
      useFactory: (discovery: DiscoveryService, runner: LockedJobRunner) =>
        new LockedJobsExplorer(discovery, runner, dataSourceName),
    },
    ...aliases,
  ];
}

/**
 * What a registration exports: the default one its services under their classes (and the
 * resolved options); one for a named DataSource only under its own tokens, so that it never
 * shadows the default registration's services when both are global.
 */
export function migrationLockExports(dataSourceName: string | undefined) {
  const tokens = exportedServiceTokens(dataSourceName).map(({ token }) => token);
  const named = tokens.some((token) => typeof token === 'string');
  return named ? tokens : [...tokens, MIGRATION_LOCK_OPTIONS];
}

/**
 * Provides the DataSource: the one given in options, else @nestjs/typeorm's (named) DataSource.
 * The @nestjs/typeorm token is injected as optional, so a missing TypeOrmModule (or a missing
 * @nestjs/typeorm) becomes a clear error here instead of Nest's generic "can't resolve dependencies".
 */
function dataSourceProvider(
  dataSourceName: string | undefined,
): FactoryProvider<MigrationLockDataSource> {
  return {
    provide: MIGRATION_LOCK_DATA_SOURCE,
    inject: [
      MIGRATION_LOCK_OPTIONS,
      { token: nestTypeormDataSourceToken(dataSourceName), optional: true },
    ],
    useFactory: (options: ResolvedMigrationLockOptions, fromTypeorm?: DataSource) => {
      const dataSource = options.dataSource ?? fromTypeorm;
      if (!dataSource) throw new DataSourceConfigError(messages.noDataSource(dataSourceName));
      return MigrationLockDataSource.adopt(dataSource, options.directUrl);
    },
  };
}
