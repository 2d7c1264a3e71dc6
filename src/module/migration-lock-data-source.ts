import type { OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DataSourceConfigError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';

/** The DataSource the module runs on, and whether the module initialized it (and so owns it). */
export class MigrationLockDataSource implements OnApplicationShutdown {
  private constructor(
    readonly dataSource: DataSource,
    private readonly initializedByModule: boolean,
  ) {}

  /** Checks that `dataSource` is safe to lock on and initializes it when nobody has yet. */
  static async adopt(dataSource: DataSource): Promise<MigrationLockDataSource> {
    assertLockableDataSource(dataSource);
    if (dataSource.isInitialized) return new MigrationLockDataSource(dataSource, false);
    await dataSource.initialize();
    return new MigrationLockDataSource(dataSource, true);
  }

  /** Destroys only what the module initialized: a DataSource owned by @nestjs/typeorm or the caller stays. */
  async onApplicationShutdown(): Promise<void> {
    if (this.initializedByModule && this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** PostgreSQL, and no `migrationsRun` (TypeORM would run migrations unlocked inside initialize()). */
export function assertLockableDataSource(dataSource: DataSource): void {
  const { type, migrationsRun } = dataSource.options as { type: string; migrationsRun?: boolean };
  if (type !== 'postgres') throw new DataSourceConfigError(messages.notPostgres(type));
  if (migrationsRun) throw new DataSourceConfigError(messages.migrationsRunEnabled());
}
