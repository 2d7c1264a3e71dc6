import type { FactoryProvider } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DataSourceConfigError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { MIGRATION_LOCK_DATA_SOURCE, MIGRATION_LOCK_OPTIONS } from './migration-lock.constants.js';
import { MigrationLockDataSource } from './migration-lock-data-source.js';
import type { ResolvedMigrationLockOptions } from './migration-lock-options.interface.js';
import { nestTypeormDataSourceToken } from './nest-typeorm-token.js';

/**
 * Provides the DataSource: the one given in options, else @nestjs/typeorm's (named) DataSource.
 * The @nestjs/typeorm token is injected as optional, so a missing TypeOrmModule (or a missing
 * @nestjs/typeorm) becomes a clear error here instead of Nest's generic "can't resolve dependencies".
 */
export function dataSourceProvider(
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
