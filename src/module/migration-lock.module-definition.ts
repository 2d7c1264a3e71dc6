import { ConfigurableModuleBuilder } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { MIGRATION_LOCK_MODULE_OPTIONS } from './migration-lock.constants.js';
import type {
  MigrationLockModuleExtras,
  MigrationLockModuleOptions,
} from './interfaces/migration-lock-options.interface.js';
import { resolveModuleExtras } from './resolve-options.js';
import { migrationLockExports, migrationLockProviders } from './migration-lock.providers.js';

/**
 * forRoot(options) and forRootAsync({ imports, inject, useFactory | useClass | useExisting }),
 * built by Nest's ConfigurableModuleBuilder. `isGlobal` and `dataSourceName` are extras: they
 * shape the module definition itself, so they must be known before any factory runs.
 */
export const {
  ConfigurableModuleClass: MigrationLockConfigurableModule,
  OPTIONS_TYPE: MIGRATION_LOCK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: MIGRATION_LOCK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<MigrationLockModuleOptions>({
  moduleName: 'MigrationLock',
  optionsInjectionToken: MIGRATION_LOCK_MODULE_OPTIONS,
})
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createMigrationLockOptions')
  .setExtras<MigrationLockModuleExtras>(
    { isGlobal: true, dataSourceName: undefined },
    (definition, given) => {
      const { isGlobal, dataSourceName } = resolveModuleExtras(given);
      return {
        ...definition,
        global: isGlobal,
        // DiscoveryService: @WithAdvisoryLock methods are found in every module of the app.
        imports: [...(definition.imports ?? []), DiscoveryModule],
        providers: [...(definition.providers ?? []), ...migrationLockProviders(dataSourceName)],
        exports: migrationLockExports(dataSourceName),
      };
    },
  )
  .build();

/** What forRootAsync() takes: imports, inject and a factory, class or existing provider, and the extras. */
export type MigrationLockModuleAsyncOptions = typeof MIGRATION_LOCK_ASYNC_OPTIONS_TYPE;
