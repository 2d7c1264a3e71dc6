import type { MigrationState } from '../migration-runner/migration-events.js';
import type { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';

/** The shape @nestjs/terminus expects from an indicator: `{ [key]: { status, ...details } }`. */
export type MigrationHealthResult = Record<
  string,
  { status: 'up' | 'down' } & Omit<MigrationState, 'since' | 'tenants'> & {
      since: string;
      /** With `tenants.onFailure: 'report'`: each tenant schema that failed, down, with why. */
      tenants?: Record<string, { status: 'down'; migration?: string; error: string }>;
    }
>;

/**
 * A readiness indicator for @nestjs/terminus built on the migration state. It returns terminus's
 * result shape without importing terminus (an optional peer), so the module loads without it:
 *
 *   health.check([() => migrations.isHealthy()])
 *
 * Up when this replica's migrations are done, or when it does not run them (`runOnBootstrap: false`)
 * and never started; down while idle, waiting, migrating, or after a failure.
 */
export class MigrationHealthIndicator {
  /** Made by MigrationLockModule (inject it from there); `runOnBootstrap`: the module's option. */
  constructor(
    private readonly runner: MigrationRunnerService,
    private readonly runOnBootstrap: boolean,
  ) {}

  /**
   * Tenants that failed (start-up went on with `onFailure: 'report'`) are listed as down in the
   * details; the replica itself stays up: it serves the other tenants.
   */
  isHealthy(key = 'migrations'): MigrationHealthResult {
    const { since, tenants: tenantRun, ...state } = this.runner.state;
    const up = state.phase === 'done' || (state.phase === 'idle' && !this.runOnBootstrap);
    const failed = tenantRun?.failed ?? [];
    const tenants =
      failed.length === 0
        ? {}
        : {
            tenants: Object.fromEntries(
              failed.map(({ schema, migration, error }) => [
                schema,
                { status: 'down' as const, ...(migration ? { migration } : {}), error },
              ]),
            ),
          };
    return {
      [key]: { status: up ? 'up' : 'down', ...state, since: since.toISOString(), ...tenants },
    };
  }
}
