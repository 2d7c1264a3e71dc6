import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { referenceMigrations } from '../migrations/index.js';
import { MigrationLockModule } from '../../src/module/migration-lock.module.js';
import type { MigrationLockModuleOptions } from '../../src/module/interfaces/migration-lock-options.interface.js';
import { Cluster } from './clusters/cluster.entity.js';
import { ClustersController } from './clusters/clusters.controller.js';
import { ClustersService } from './clusters/clusters.service.js';
import { HealthController } from './health/health.controller.js';

export interface AppModuleOptions {
  databaseUrl: string;
  /** Migrations to run after the reference ones (the demo's fault scenarios). */
  extraMigrations?: ReadonlyArray<new () => unknown>;
  /**
   * How long an unused pooled connection stays open (pg-pool idleTimeoutMillis). Keep it below the
   * server's idle_session_timeout, or the pool hands out connections the server already closed.
   */
  poolIdleTimeoutMs?: number;
  /** Passed to MigrationLockModule.forRoot (the demo's --no-lock turns runOnBootstrap off). */
  migrationLock?: MigrationLockModuleOptions;
}

/** The reference service: a clusters API whose schema is migrated under the lock before it listens. */
@Module({})
export class AppModule {
  static register(options: AppModuleOptions): DynamicModule {
    // One name for every connection of this replica, the lock connections included.
    const applicationName = `clusters-api:${hostname()}:${process.pid}`;
    return {
      module: AppModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: options.databaseUrl,
          applicationName,
          entities: [Cluster],
          migrations: [...referenceMigrations, ...(options.extraMigrations ?? [])],
          migrationsRun: false,
          synchronize: false,
          retryAttempts: 2,
          ...(options.poolIdleTimeoutMs === undefined
            ? {}
            : { extra: { idleTimeoutMillis: options.poolIdleTimeoutMs } }),
          retryDelay: 500,
        }),
        TypeOrmModule.forFeature([Cluster]),
        TerminusModule.forRoot({ logger: false }),
        MigrationLockModule.forRoot({ applicationName, ...options.migrationLock }),
      ],
      controllers: [ClustersController, HealthController],
      providers: [ClustersService],
    };
  }
}
