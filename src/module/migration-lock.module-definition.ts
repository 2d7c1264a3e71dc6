import { ConfigurableModuleBuilder } from '@nestjs/common';
import { dataSourceProvider } from './data-source.provider.js';
import type {
  MigrationLockModuleExtras,
  MigrationLockModuleOptions,
} from './migration-lock-options.interface.js';

/**
 * forRoot(options) and forRootAsync({ imports, inject, useFactory | useClass | useExisting }),
 * built by Nest's ConfigurableModuleBuilder. `dataSourceName` is an extra: it picks the provider
 * to inject, so it must be known before any factory runs.
 */
export const {
  ConfigurableModuleClass: MigrationLockConfigurableModule,
  MODULE_OPTIONS_TOKEN: MIGRATION_LOCK_MODULE_OPTIONS,
  OPTIONS_TYPE: MIGRATION_LOCK_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: MIGRATION_LOCK_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<MigrationLockModuleOptions>({ moduleName: 'MigrationLock' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createMigrationLockOptions')
  .setExtras<MigrationLockModuleExtras>({ dataSourceName: undefined }, (definition, extras) => ({
    ...definition,
    providers: [...(definition.providers ?? []), dataSourceProvider(extras.dataSourceName)],
  }))
  .build();
