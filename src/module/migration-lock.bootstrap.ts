import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { TenantMigrationService } from '../tenants/tenant-migration.service.js';
import { MIGRATION_LOCK_OPTIONS } from './migration-lock.constants.js';
import type { ResolvedMigrationLockOptions } from './interfaces/migration-lock-options.interface.js';

/**
 * Runs migrations in onApplicationBootstrap. NestJS `listen()` awaits init(), which runs these hooks,
 * before the HTTP server listens: no request reaches a replica while its schema is old.
 *
 * On shutdown (SIGTERM with enableShutdownHooks, or app.close()) during that run: a wait is
 * cancelled at the server, `all` rolls back, `each` / `none` stop after the current migration; the
 * hook returns once the lock is released, so nothing is left in pg_locks.
 */
@Injectable()
export class MigrationBootstrap implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('MigrationLock');
  private readonly shutdown = new AbortController();
  private running: Promise<unknown> | undefined;

  constructor(
    @Inject(MIGRATION_LOCK_OPTIONS) private readonly options: ResolvedMigrationLockOptions,
    @Inject(MigrationRunnerService) private readonly runner: MigrationRunnerService,
    @Inject(TenantMigrationService) private readonly tenants: TenantMigrationService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.runOnBootstrap) return;
    // The shared migrations first (a shared migration may make the table the tenants come from).
    const run = this.runner
      .run({ signal: this.shutdown.signal })
      .then(() => (this.tenants.configured ? this.reportTenants() : undefined));
    this.running = run.catch(() => undefined);
    try {
      await run;
    } catch (error) {
      this.logger.error(`Start-up stopped: ${(error as Error).message}`);
      throw error;
    }
  }

  /** The tenant run; with `onFailure: 'report'` a failed tenant is said here and start-up goes on. */
  private async reportTenants(): Promise<void> {
    const { failed, total } = await this.tenants.run({ signal: this.shutdown.signal });
    if (failed.length > 0)
      this.logger.warn(
        `${failed.length} of ${total} tenant schema(s) failed to migrate: ${failed.map((f) => f.schema).join(', ')} (tenants.onFailure: 'report')`,
      );
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) return;
    this.shutdown.abort(new Error('application shutdown'));
    await this.running;
    // The history's check after the run (checks that only warn) reads the database: let it end.
    await this.runner.validationDone;
  }
}
