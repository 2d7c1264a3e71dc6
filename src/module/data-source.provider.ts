import type { FactoryProvider, InjectionToken, OptionalFactoryDependency } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DataSourceConfigError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { MIGRATION_LOCK_DATA_SOURCE, MIGRATION_LOCK_OPTIONS } from './migration-lock.constants.js';
import { MigrationLockDataSource } from './migration-lock-data-source.js';
import type { ResolvedMigrationLockOptions } from './migration-lock-options.interface.js';
import { nestTypeorm } from './optional-nestjs-typeorm.js';

/**
 * Provides the DataSource: the one given in options, else @nestjs/typeorm's (named) DataSource.
 * The @nestjs/typeorm token is injected as optional, so a missing TypeOrmModule becomes a clear
 * error here instead of Nest's generic "can't resolve dependencies".
 */
export function dataSourceProvider(
  dataSourceName: string | undefined,
): FactoryProvider<MigrationLockDataSource> {
  const inject: Array<InjectionToken | OptionalFactoryDependency> = [MIGRATION_LOCK_OPTIONS];
  if (nestTypeorm)
    inject.push({ token: nestTypeorm.getDataSourceToken(dataSourceName), optional: true });
  return {
    provide: MIGRATION_LOCK_DATA_SOURCE,
    inject,
    useFactory: (options: ResolvedMigrationLockOptions, fromTypeorm?: DataSource) => {
      if (options.dataSource) return MigrationLockDataSource.adopt(options.dataSource);
      if (!nestTypeorm && dataSourceName)
        throw new DataSourceConfigError(messages.nestTypeormMissing(dataSourceName));
      if (!fromTypeorm) throw new DataSourceConfigError(messages.noDataSource(dataSourceName));
      return MigrationLockDataSource.adopt(fromTypeorm);
    },
  };
}
