import { NestFactory } from '@nestjs/core';
import type { DataSource } from 'typeorm';
import type { DriftLevel } from '../history/history-options.js';
import type { MigrationEvents } from '../migration-runner/migration-events.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { assertLockableDataSource } from '../module/migration-lock-data-source.js';
import type { MigrationTransactionMode } from '../module/interfaces/migration-lock-options.interface.js';
import { MigrationLockModule } from '../module/migration-lock.module.js';
import { TenantMigrationService } from '../tenants/tenant-migration.service.js';
import type { TenantsOptions } from '../tenants/tenants.options.js';
import { DatabaseUnreachableError } from './cli.errors.js';
import { loadDataSource } from './load-data-source.js';
import { parseDuration } from './parse-duration.js';

/** Options every command takes (commander's camel-cased names). */
export interface CommonOptions {
  dataSource: string;
  lockId: string;
  lockType: string;
  timeout?: string;
  connectTimeout: string;
  directUrl?: string;
  transaction: MigrationTransactionMode;
  applicationName?: string;
  historyTable?: string;
  /** `run` only: what drift found before the run does. */
  validate?: DriftLevel;
  json: boolean;
}

export interface CliContext {
  readonly dataSource: DataSource;
  readonly runner: MigrationRunnerService;
  /** The tenant run, when the command was given tenants (`migration-lock tenants …`). */
  readonly tenants: TenantMigrationService;
  close(): Promise<void>;
}

/**
 * Loads the data source file and connects, then starts MigrationLockModule in a standalone Nest
 * application context (no HTTP). Usage and connection problems surface here, before any lock.
 */
export async function openCliContext(
  options: CommonOptions,
  events: (dataSource: DataSource) => MigrationEvents | undefined = () => undefined,
  tenants?: (dataSource: DataSource) => TenantsOptions,
): Promise<CliContext> {
  const timeoutMs = options.timeout === undefined ? undefined : parseDuration(options.timeout);
  const connectTimeoutMs = parseDuration(options.connectTimeout, '--connect-timeout');
  const dataSource = await loadDataSource(options.dataSource);
  // Checked before initialize(): with migrationsRun, initialize() itself would migrate unlocked.
  assertLockableDataSource(dataSource);
  boundConnectWait(dataSource, connectTimeoutMs);
  if (!dataSource.isInitialized)
    await dataSource.initialize().catch((error: unknown) => {
      throw DatabaseUnreachableError.create(error, connectionTarget(dataSource));
    });
  try {
    const app = await NestFactory.createApplicationContext(
      MigrationLockModule.forRoot({
        dataSource,
        runOnBootstrap: false,
        lockId: options.lockId,
        lockType: options.lockType,
        transaction: options.transaction,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(options.applicationName === undefined
          ? {}
          : { applicationName: options.applicationName }),
        ...(options.directUrl ? { directUrl: options.directUrl } : {}),
        ...(options.historyTable === undefined ? {} : { historyTable: options.historyTable }),
        ...(options.validate === undefined ? {} : { validate: options.validate }),
        events: events(dataSource),
        ...(tenants ? { tenants: tenants(dataSource) } : {}),
      }),
      { logger: false, abortOnError: false },
    );
    return {
      dataSource,
      runner: app.get(MigrationRunnerService),
      tenants: app.get(TenantMigrationService),
      close: async () => {
        await app.close();
        await dataSource.destroy();
      },
    };
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
}

/**
 * pg waits for a new connection forever by default: a server (or a proxy in front of one) that
 * accepts TCP and never answers would hang an init container. The data source's own setting wins.
 */
function boundConnectWait(dataSource: DataSource, connectTimeoutMs: number): void {
  const options = dataSource.options as {
    connectTimeoutMS?: number;
    extra?: { connectionTimeoutMillis?: number };
  };
  if (
    options.connectTimeoutMS !== undefined ||
    options.extra?.connectionTimeoutMillis !== undefined
  )
    return;
  // Read when the pool is made, in initialize(); setOptions() writes into those same options.
  dataSource.setOptions({ connectTimeoutMS: connectTimeoutMs } as Partial<DataSource['options']>);
}

/** host:port/database of the data source, for messages: never its user, password or full URL. */
function connectionTarget(dataSource: DataSource): string {
  const options = dataSource.options as {
    url?: string;
    host?: string;
    port?: number;
    database?: string;
  };
  let { host, port, database } = options;
  if (options.url) {
    try {
      const url = new URL(options.url);
      host ??= url.hostname;
      port ??= Number(url.port) || undefined;
      database ??= url.pathname.slice(1) || undefined;
    } catch {
      // An unparsable URL: say only what the other options say.
    }
  }
  return `${host ?? 'localhost'}:${port ?? 5432}/${database ?? '(default database)'}`;
}
