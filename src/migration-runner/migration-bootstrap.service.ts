import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { MIGRATION_LOCK_OPTIONS } from '../module/migration-lock.constants.js';
import type { ResolvedMigrationLockOptions } from '../module/migration-lock-options.interface.js';
import { MigrationRunnerService } from './migration-runner.service.js';

/**
 * Runs migrations in onApplicationBootstrap. NestJS `listen()` awaits init(), which runs these hooks,
 * before the HTTP server listens: no request reaches a replica while its schema is old.
 */
@Injectable()
export class MigrationBootstrap implements OnApplicationBootstrap {
  private readonly logger = new Logger('MigrationLock');

  constructor(
    @Inject(MIGRATION_LOCK_OPTIONS) private readonly options: ResolvedMigrationLockOptions,
    @Inject(MigrationRunnerService) private readonly runner: MigrationRunnerService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.runOnBootstrap) return;
    try {
      await this.runner.run();
    } catch (error) {
      this.logger.error(`Start-up stopped: ${(error as Error).message}`);
      throw error;
    }
  }
}
