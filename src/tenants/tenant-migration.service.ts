import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { InvalidOptionsError, LockAbortedError } from '../errors/migration-lock.errors.js';
import { TenantMigrationsFailedError, type TenantFailure } from '../errors/migration.errors.js';
import { checkAbortSignal } from '../errors/option-checks.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import type { CodeMigration } from '../migration-runner/code-migrations.js';
import { emitEvent, type EventOf } from '../migration-runner/migration-events.js';
import { recordTenantFailure, stopsTheRun, tenantFailure } from './tenant-failure.js';
import { migrateUnderTenantLock } from './tenant-lock-hold.js';
import type { TenantWork } from './tenant-schema-migration.js';
import { checkTenantSchema } from './tenant-schema.js';
import { readTenantStatus, type TenantStatus } from './tenant-status.js';
import type {
  ResolvedTenantsOptions,
  TenantEvents,
  TenantsProgress,
  TenantsResult,
} from './tenants.options.js';

/** How one attempt at a tenant ended. */
type Attempt =
  | { outcome: 'held' }
  | { outcome: 'done'; applied: string[] }
  | { outcome: 'failed'; failure: TenantFailure };

/**
 * Brings every tenant schema to the tenant migrations, the work shared by every replica: each
 * walks the list and claims a tenant with a non-blocking transaction-level lock of its own
 * (tenant-lock-key.ts), up to `concurrency` at once on as many pooled connections; a tenant
 * another replica holds is left for the end, then waited for (bounded by `timeoutMs`) and looked at
 * again. Each tenant is one transaction: its lock, its search path, its migrations and their rows
 * in its own migrations table commit together or not at all. A failing tenant never stops the
 * others.
 */
export class TenantMigrationService {
  private readonly logger = new Logger('MigrationLock');

  constructor(
    private readonly dataSource: DataSource,
    private readonly locks: AdvisoryLockService,
    private readonly lock: {
      readonly id: string;
      readonly type: string;
      readonly timeoutMs: number;
      /** Where a tenant's failed attempt is recorded (and `status()` reads it): none when false. */
      readonly historyTable?: string | false;
    },
    private readonly options: ResolvedTenantsOptions | undefined,
    private readonly events?: TenantEvents,
    /** Told what every run ended with (the runner's state shows it). */
    private readonly onDone?: (result: TenantsResult) => void,
  ) {}

  /** Whether the module was given `tenants`. */
  get configured(): boolean {
    return this.options !== undefined;
  }

  private get tenants(): ResolvedTenantsOptions {
    if (!this.options)
      throw new InvalidOptionsError(
        'No tenants to migrate: give MigrationLockModule the option tenants: { migrations, schemas } (docs/tenants.md).',
      );
    return this.options;
  }

  /**
   * Every tenant of `tenants.schemas` (read again on every run) brought up to date. Aborting
   * `signal` stops claiming tenants and rolls back the ones in flight (`LockAbortedError`);
   * `onProgress` hears after every tenant this replica finished with (the CLI's progress line).
   * @throws TenantMigrationsFailedError when one failed and `onFailure` is `'fail'` (after the others)
   * @throws LockAbortedError, SessionLockThroughPoolerError: the run stopped, not one tenant
   */
  async run(
    options: { signal?: AbortSignal; onProgress?: (progress: TenantsProgress) => void } = {},
  ): Promise<TenantsResult> {
    const signal = checkAbortSignal('tenants run', options.signal);
    const started = performance.now();
    const schemas = await this.schemas();
    const migrations = await this.tenants.migrations();
    const result = {
      total: schemas.length,
      migrated: 0,
      current: 0,
      failed: [] as TenantFailure[],
    };
    const record = (attempt: Exclude<Attempt, { outcome: 'held' }>) => {
      if (attempt.outcome === 'failed') result.failed.push(attempt.failure);
      else if (attempt.applied.length > 0) result.migrated++;
      else result.current++;
      options.onProgress?.({
        total: result.total,
        done: result.migrated + result.current + result.failed.length,
        failed: result.failed.length,
        elapsedMs: performance.now() - started,
      });
    };
    // First pass: claim what is free; what another replica holds is looked at again at the end.
    const held: string[] = [];
    await this.inParallel(schemas, signal, async (schema) => {
      const attempt = await this.attempt(schema, migrations, { wait: false, signal });
      if (attempt.outcome === 'held') held.push(schema);
      else record(attempt);
    });
    // Then wait for each of those (its holder's commit or rollback) and bring it up to date.
    const deadline = performance.now() + this.lock.timeoutMs;
    await this.inParallel(held, signal, async (schema) => {
      const remaining =
        this.lock.timeoutMs === 0 ? 0 : Math.max(1, Math.round(deadline - performance.now()));
      const attempt = await this.attempt(schema, migrations, {
        wait: true,
        timeoutMs: remaining,
        signal,
      });
      if (attempt.outcome !== 'held') record(attempt);
    });
    // Tenants left unclaimed: the run did not finish, whatever the ones in flight did.
    if (signal?.aborted)
      throw new LockAbortedError(`${this.lock.id}/${this.lock.type} (tenants)`, 'holding', {
        cause: signal.reason,
      });
    const done: TenantsResult = { ...result, durationMs: Math.round(performance.now() - started) };
    this.onDone?.(done);
    this.emit('tenantsDone', {
      total: done.total,
      migrated: done.migrated,
      current: done.current,
      failed: done.failed.length,
      durationMs: done.durationMs,
    });
    if (done.failed.length > 0 && this.tenants.onFailure === 'fail')
      throw new TenantMigrationsFailedError(done.failed, done.total);
    return done;
  }

  /**
   * One schema brought up to date now (a tenant created at runtime): waits for a replica that
   * holds it, idempotent. Resolves to the migrations it applied.
   * @throws TenantMigrationsFailedError naming the schema when it failed
   */
  async migrateTenant(schema: string, options: { createSchema?: boolean } = {}): Promise<string[]> {
    checkTenantSchema(schema);
    const migrations = await this.tenants.migrations();
    const attempt = await this.attempt(schema, migrations, {
      wait: true,
      timeoutMs: this.lock.timeoutMs,
      createSchema: options.createSchema ?? this.tenants.createSchemas,
    });
    if (attempt.outcome === 'failed') throw new TenantMigrationsFailedError([attempt.failure], 1);
    return attempt.outcome === 'done' ? attempt.applied : [];
  }

  /**
   * Where every tenant of `tenants.schemas` stands now: applied and pending counts, and who holds
   * its lock; no lock taken (`migration-lock tenants status`).
   */
  async status(): Promise<TenantStatus[]> {
    const schemas = await this.schemas();
    return readTenantStatus(
      this.dataSource,
      this.lock,
      schemas,
      await this.tenants.migrations(),
      this.lock.historyTable ?? false,
    );
  }

  /** The schema list, each name checked before any SQL (a bad one fails the run here). */
  private async schemas(): Promise<string[]> {
    const listed = await this.tenants.schemas();
    return [...new Set(listed.map((schema) => checkTenantSchema(schema)))];
  }

  /**
   * Runs `work` for every item, at most `concurrency` at once; none started once `signal` aborts.
   * An error that stops the run (not a tenant's failure) stops the other workers claiming, and is
   * thrown once they are all done: nothing keeps running after the run has ended.
   */
  private async inParallel(
    items: readonly string[],
    signal: AbortSignal | undefined,
    work: (item: string) => Promise<void>,
  ) {
    let next = 0;
    let stopped: { error: unknown } | undefined;
    const worker = async () => {
      while (next < items.length && !signal?.aborted && !stopped)
        await work(items[next++]).catch((error: unknown) => {
          stopped ??= { error };
        });
    };
    await Promise.all(
      Array.from({ length: Math.min(this.tenants.concurrency, items.length) }, worker),
    );
    if (stopped) throw stopped.error;
  }

  private async attempt(
    schema: string,
    migrations: readonly CodeMigration[],
    how: { wait: boolean; timeoutMs?: number; createSchema?: boolean; signal?: AbortSignal },
  ): Promise<Attempt> {
    const started = performance.now();
    const work: TenantWork = {
      dataSource: this.dataSource,
      schema,
      migrations,
      createSchema: how.createSchema ?? this.tenants.createSchemas,
      started: (pending) => this.emit('tenantStarted', { schema, pending }),
    };
    try {
      const applied = await migrateUnderTenantLock(this.locks, this.lock, work, how);
      if (applied === undefined) return { outcome: 'held' };
      if (applied.length > 0)
        this.emit('tenantMigrated', {
          schema,
          applied,
          durationMs: Math.round(performance.now() - started),
        });
      return { outcome: 'done', applied };
    } catch (error) {
      if (stopsTheRun(error)) throw error;
      const failure = tenantFailure(schema, error);
      this.logger.error(`Tenant "${schema}" failed to migrate: ${failure.error}`);
      const { historyTable = false, timeoutMs } = this.lock;
      if (historyTable)
        await recordTenantFailure(this.locks, historyTable, work, {
          failure,
          error,
          durationMs: performance.now() - started,
          timeoutMs,
        }).catch((cause: unknown) =>
          this.logger.warn(
            `Tenant "${schema}": its failed attempt was not recorded in ${historyTable}: ${(cause as Error).message}`,
          ),
        );
      this.emit('tenantFailed', { ...failure });
      return { outcome: 'failed', failure };
    }
  }

  private emit<K extends keyof TenantEvents>(name: K, event: EventOf<TenantEvents, K>): void {
    emitEvent(this.events, name, event, this.logger);
  }
}
