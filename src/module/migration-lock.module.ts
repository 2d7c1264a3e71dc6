import { Module, type DynamicModule } from '@nestjs/common';
import { checkOptionsObject } from '../errors/option-checks.js';
import {
  MigrationLockConfigurableModule,
  MIGRATION_LOCK_ASYNC_OPTIONS_TYPE,
  MIGRATION_LOCK_OPTIONS_TYPE,
} from './migration-lock.module-definition.js';

/**
 * Runs TypeORM migrations under a PostgreSQL advisory lock before the application serves traffic,
 * and exposes AdvisoryLockService for other work that must run on one replica at a time.
 * Global by default (`isGlobal: false` to opt out), registered once per DataSource like
 * TypeOrmModule.forRoot.
 */
@Module({})
export class MigrationLockModule extends MigrationLockConfigurableModule {
  static override forRoot(options: typeof MIGRATION_LOCK_OPTIONS_TYPE = {}): DynamicModule {
    // Nest's builder would meet null or an array with a raw TypeError.
    checkOptionsObject('MigrationLockModule.forRoot', options);
    return super.forRoot(options);
  }

  static override forRootAsync(options: typeof MIGRATION_LOCK_ASYNC_OPTIONS_TYPE): DynamicModule {
    checkOptionsObject('MigrationLockModule.forRootAsync', options, { required: true });
    return super.forRootAsync(options);
  }
}
