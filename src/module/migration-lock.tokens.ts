import { Inject } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { MigrationHealthIndicator } from '../health/migration.health.js';
import { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { namedDataSource } from '../errors/option-checks.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { TenantMigrationService } from '../tenants/tenant-migration.service.js';

/*
 * How an app reaches the services of one MigrationLockModule registration, in the style of
 * @nestjs/typeorm's getDataSourceToken / @InjectDataSource: the default registration under the
 * classes themselves (plain constructor injection works), a registration for a named DataSource
 * under `<name>AdvisoryLockService` and so on, so several registrations never shadow each other.
 */
const SERVICES = {
  AdvisoryLockService,
  MigrationRunnerService,
  MigrationHealthIndicator,
  TenantMigrationService,
};
type ServiceName = keyof typeof SERVICES;

function tokenOf<K extends ServiceName>(
  service: K,
  dataSourceName: string | undefined,
): (typeof SERVICES)[K] | string {
  const named = namedDataSource(dataSourceName);
  return named === undefined ? SERVICES[service] : `${named}${service}`;
}

/** The injection token of the AdvisoryLockService for `dataSourceName` (the default DataSource when omitted). */
export const getAdvisoryLockServiceToken = (dataSourceName?: string) =>
  tokenOf('AdvisoryLockService', dataSourceName);

/** The injection token of the MigrationRunnerService for `dataSourceName`. */
export const getMigrationRunnerToken = (dataSourceName?: string) =>
  tokenOf('MigrationRunnerService', dataSourceName);

/** The injection token of the MigrationHealthIndicator for `dataSourceName`. */
export const getMigrationHealthIndicatorToken = (dataSourceName?: string) =>
  tokenOf('MigrationHealthIndicator', dataSourceName);

/** The injection token of the TenantMigrationService for `dataSourceName`. */
export const getTenantMigrationServiceToken = (dataSourceName?: string) =>
  tokenOf('TenantMigrationService', dataSourceName);

/** `constructor(@InjectAdvisoryLockService('fleet') locks: AdvisoryLockService)`. */
export const InjectAdvisoryLockService = (dataSourceName?: string) =>
  Inject(getAdvisoryLockServiceToken(dataSourceName));

/** `constructor(@InjectMigrationRunner('fleet') runner: MigrationRunnerService)`. */
export const InjectMigrationRunner = (dataSourceName?: string) =>
  Inject(getMigrationRunnerToken(dataSourceName));

/** `constructor(@InjectMigrationHealthIndicator('fleet') health: MigrationHealthIndicator)`. */
export const InjectMigrationHealthIndicator = (dataSourceName?: string) =>
  Inject(getMigrationHealthIndicatorToken(dataSourceName));

/** `constructor(@InjectTenantMigrationService('fleet') tenants: TenantMigrationService)`. */
export const InjectTenantMigrationService = (dataSourceName?: string) =>
  Inject(getTenantMigrationServiceToken(dataSourceName));

/** Every service a registration exports, under its tokens for `dataSourceName`. */
export function exportedServiceTokens(dataSourceName: string | undefined) {
  return (Object.keys(SERVICES) as ServiceName[]).map((service) => ({
    service: SERVICES[service],
    token: tokenOf(service, dataSourceName),
  }));
}

/**
 * The token @nestjs/typeorm registers a DataSource under: its `getDataSourceToken(name)`, whose
 * rule is part of its public API (the default DataSource under the TypeORM `DataSource` class,
 * a named one under `<name>DataSource`). It is restated here rather than imported because
 * @nestjs/typeorm is an optional peer, and a module that both CommonJS and ESM apps load cannot
 * import an optional package synchronously (no top-level await). A unit test pins it to
 * @nestjs/typeorm's own function.
 */
export function nestTypeormDataSourceToken(dataSourceName?: string): string | typeof DataSource {
  const named = namedDataSource(dataSourceName);
  return named === undefined ? DataSource : `${named}DataSource`;
}
