import { Inject } from '@nestjs/common';
import { MigrationHealthIndicator } from '../health/migration.health.js';
import { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';

/*
 * How an app reaches the services of one MigrationLockModule registration, in the style of
 * @nestjs/typeorm's getDataSourceToken / @InjectDataSource: the default registration under the
 * classes themselves (plain constructor injection works), a registration for a named DataSource
 * under `<name>AdvisoryLockService` and so on, so several registrations never shadow each other.
 */
const SERVICES = { AdvisoryLockService, MigrationRunnerService, MigrationHealthIndicator };
type ServiceName = keyof typeof SERVICES;

function tokenOf<K extends ServiceName>(
  service: K,
  dataSourceName: string | undefined,
): (typeof SERVICES)[K] | string {
  return dataSourceName === undefined || dataSourceName === 'default'
    ? SERVICES[service]
    : `${dataSourceName}${service}`;
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

/** `constructor(@InjectAdvisoryLockService('fleet') locks: AdvisoryLockService)`. */
export const InjectAdvisoryLockService = (dataSourceName?: string) =>
  Inject(getAdvisoryLockServiceToken(dataSourceName));

/** `constructor(@InjectMigrationRunner('fleet') runner: MigrationRunnerService)`. */
export const InjectMigrationRunner = (dataSourceName?: string) =>
  Inject(getMigrationRunnerToken(dataSourceName));

/** `constructor(@InjectMigrationHealthIndicator('fleet') health: MigrationHealthIndicator)`. */
export const InjectMigrationHealthIndicator = (dataSourceName?: string) =>
  Inject(getMigrationHealthIndicatorToken(dataSourceName));

/** Every service a registration exports, under its tokens for `dataSourceName`. */
export function exportedServiceTokens(dataSourceName: string | undefined) {
  return (Object.keys(SERVICES) as ServiceName[]).map((service) => ({
    service: SERVICES[service],
    token: tokenOf(service, dataSourceName),
  }));
}
