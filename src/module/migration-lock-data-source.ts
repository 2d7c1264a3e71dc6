import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { DataSourceConfigError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { DEFAULT_DATA_SOURCE_NAME } from '../errors/option-checks.js';

/**
 * The DataSource the module runs on, whether the module initialized it (and so owns it), and the
 * direct DataSource it made for session-level locking when the app's goes through a pooler.
 */
export class MigrationLockDataSource implements OnApplicationShutdown {
  private constructor(
    readonly dataSource: DataSource,
    private readonly initializedByModule: boolean,
    readonly direct: DataSource | undefined,
  ) {}

  /**
   * Checks that `dataSource` is safe to lock on and initializes it when nobody has yet; with
   * `directUrl`, connects the direct DataSource too.
   */
  static async adopt(dataSource: DataSource, directUrl?: string): Promise<MigrationLockDataSource> {
    assertLockableDataSource(dataSource);
    const initializedByModule = !dataSource.isInitialized;
    if (initializedByModule) await dataSource.initialize();
    const direct = directUrl ? createDirectDataSource(dataSource, directUrl) : undefined;
    await direct?.initialize();
    return new MigrationLockDataSource(dataSource, initializedByModule, direct);
  }

  /** Destroys only what the module made: a DataSource owned by @nestjs/typeorm or the caller stays. */
  async onApplicationShutdown(): Promise<void> {
    if (this.direct?.isInitialized) await this.direct.destroy();
    if (this.initializedByModule && this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

interface SchemaOptions {
  type: string;
  migrationsRun?: boolean;
  synchronize?: boolean;
  dropSchema?: boolean;
}

/**
 * PostgreSQL, and no `migrationsRun` (TypeORM runs migrations unlocked inside initialize()).
 * `synchronize` / `dropSchema` also run inside initialize(), outside the lock: they are legitimate
 * in a one-process dev setup, so they get a warning, not a refusal.
 */
export function assertLockableDataSource(dataSource: DataSource): void {
  const options = dataSource.options as SchemaOptions;
  if (options.type !== 'postgres')
    throw new DataSourceConfigError(messages.notPostgres(options.type));
  if (options.migrationsRun) {
    throw new DataSourceConfigError(messages.migrationsRunEnabled(dataSource.isInitialized));
  }
  const unlocked = (['synchronize', 'dropSchema'] as const).filter((name) => options[name]);
  if (unlocked.length > 0)
    new Logger('MigrationLock').warn(messages.schemaSyncOutsideLock(unlocked));
}

/** Connections of the direct pool: one holds the session lock and runs the migrations; one spare. */
const DIRECT_POOL_SIZE = 2;

type PostgresOptions = DataSource['options'] & Record<string, unknown>;

/**
 * A DataSource on `directUrl` (PostgreSQL itself, past the app's pooler) made from the app's own
 * DataSource options, so the migrations, entities, schema and migrations table are the same. Where
 * the app's DataSource connects (host, port, credentials, replicas) is replaced by the URL; it never
 * migrates or synchronizes by itself. Built with the app's own TypeORM (its DataSource class).
 */
export function createDirectDataSource(app: DataSource, directUrl: string): DataSource {
  const {
    url: _url,
    host: _host,
    port: _port,
    username: _username,
    password: _password,
    database: _database,
    replication: _replication,
    name,
    ...rest
  } = app.options as PostgresOptions;
  const DataSourceClass = app.constructor as new (options: DataSource['options']) => DataSource;
  return new DataSourceClass({
    ...rest,
    url: directUrl,
    name: `${String(name ?? DEFAULT_DATA_SOURCE_NAME)}:migration-lock-direct`,
    poolSize: DIRECT_POOL_SIZE,
    migrationsRun: false,
    synchronize: false,
    dropSchema: false,
  } as unknown as DataSource['options']);
}
