import type { DataSource } from 'typeorm';
import type { DriftLevels, ValidateOption } from '../../history/history-options.js';
import type { LockedJobEvents } from '../../jobs/locked-job.js';
import type {
  ResolvedTenantsOptions,
  TenantEvents,
  TenantsOptions,
} from '../../tenants/tenants.options.js';
import type { MigrationEvents } from '../../migration-runner/migration-events.js';
import type { MigrationTransactionMode } from '../../migration-runner/migration-runner.options.js';

export type { MigrationTransactionMode };

export interface MigrationLockModuleOptions {
  /**
   * A TypeORM DataSource to use directly, instead of @nestjs/typeorm's. The module initializes it
   * when it is not initialized yet, and destroys at shutdown only what it initialized.
   */
  dataSource?: DataSource;
  /**
   * Run pending migrations under the lock in `onApplicationBootstrap`, so `listen()` opens the port
   * only after the schema is current.
   * @default true
   */
  runOnBootstrap?: boolean;
  /** @default 'migrations' (hyperfleet-api's migration lock id) */
  lockId?: string;
  /** @default 'Migrations' (hyperfleet-api's migration lock type) */
  lockType?: string;
  /**
   * How long to wait for the lock, enforced by the server (`lock_timeout`); 0 waits forever.
   * @default 300000 (5 minutes)
   */
  timeoutMs?: number;
  /** @default 'all' */
  transaction?: MigrationTransactionMode;
  /**
   * `application_name` the lock connections show in pg_stat_activity while they hold or wait for
   * the lock, so `migration-lock status` can name replicas.
   * @default `<the DataSource's applicationName>:<hostname>:<pid>`, or `migration-lock:<hostname>:<pid>`
   */
  applicationName?: string;
  /**
   * A connection URL that reaches PostgreSQL directly, for an app whose DataSource goes through a
   * pooler in transaction mode (PgBouncer, …). The session-level lock of modes `each` / `none`
   * (and `withSessionLock`) and the migrations it protects then run on one connection from a small
   * pool (2) on this URL, made from the DataSource's own options; everything else, mode `all`
   * included, keeps using the pooled DataSource. Without it, session-level locking through a
   * pooler is refused (SessionLockThroughPoolerError).
   */
  directUrl?: string;
  /** Listener for metrics and tracing: wait started, lock acquired, migration applied, lock released, failed, and the job events. */
  events?: MigrationLockEvents;
  /**
   * The table where `@WithAdvisoryLock({ oncePer })` records each period's run (created on first
   * use, in the DataSource's schema unless given as `schema.table`).
   * @default 'migration_lock_job_runs'
   */
  jobRunsTable?: string;
  /**
   * The migration history: one row per migration applied (in the same transaction as TypeORM's
   * row), failed attempt, baseline and revert, with its checksum and who applied it (created on
   * first use, in the DataSource's schema unless given as `schema.table`). `false` keeps none.
   * @default 'migration_lock_history'
   */
  historyTable?: string | false;
  /**
   * Before each run, the history is checked against the code: `changed` (an applied migration's
   * statements differ), `missing` (applied, gone from the code), `outOfOrder` (pending, older than
   * the newest applied). `warn` logs them once per run, `fail` refuses to run (MigrationDriftError,
   * before the lock), `off` does not look; one level for all, or one per finding.
   * @default 'warn'
   */
  validate?: ValidateOption;
  /**
   * Schema-per-tenant apps: after the shared migrations, every tenant schema is brought to the
   * tenant migrations, each under a lock of its own, the work shared by every replica
   * (docs/tenants.md).
   */
  tenants?: TenantsOptions;
}

/**
 * The module option `events`: a listener for metrics and tracing, told of the migration run and of
 * the `@WithAdvisoryLock` jobs. Every method is optional; no metrics library is forced on anyone.
 * A listener that throws is logged and ignored.
 */
export interface MigrationLockEvents extends MigrationEvents, LockedJobEvents, TenantEvents {}

/**
 * Given at the top level of forRoot / forRootAsync (not inside the factory's result), because it
 * decides which provider the module injects.
 */
export interface MigrationLockModuleExtras {
  /**
   * Register the module's services globally, so any module can inject AdvisoryLockService,
   * MigrationRunnerService and MigrationHealthIndicator without importing MigrationLockModule.
   * @default true
   */
  isGlobal?: boolean;
  /** The @nestjs/typeorm DataSource name (`TypeOrmModule.forRoot({ name })`). @default the default DataSource */
  dataSourceName?: string;
}

/** Options after validation, with every default filled in. */
export interface ResolvedMigrationLockOptions {
  readonly dataSource: DataSource | undefined;
  readonly runOnBootstrap: boolean;
  readonly lockId: string;
  readonly lockType: string;
  readonly timeoutMs: number;
  readonly transaction: MigrationTransactionMode;
  /** Undefined: derived from the DataSource's own applicationName (see the option). */
  readonly applicationName: string | undefined;
  readonly events: MigrationLockEvents | undefined;
  readonly directUrl: string | undefined;
  readonly jobRunsTable: string;
  readonly historyTable: string | false;
  readonly validate: DriftLevels;
  readonly tenants: ResolvedTenantsOptions | undefined;
}
