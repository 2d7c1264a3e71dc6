import type { DataSource } from 'typeorm';

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
    name: `${String(name ?? 'default')}:migration-lock-direct`,
    poolSize: DIRECT_POOL_SIZE,
    migrationsRun: false,
    synchronize: false,
    dropSchema: false,
  } as unknown as DataSource['options']);
}
