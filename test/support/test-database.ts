import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { withDatabase } from '../../reference/runtime/connection-url.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.MIGRATION_LOCK_TEST_ADMIN_URL;
  if (!url)
    throw new Error(
      'MIGRATION_LOCK_TEST_ADMIN_URL is not set: run the tests through jest (globalSetup).',
    );
  return url;
}

/** A raw pg client with the 'error' handler every raw client needs. */
export async function connectClient(
  url: string,
  applicationName = 'migration-lock-test',
): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connectClient(adminUrl());
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database on the run's server, so test files can run in parallel without sharing state. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `ml_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: withDatabase(adminUrl(), name),
    drop: () =>
      withAdmin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

/** An initialized TypeORM DataSource on `url`; remember to destroy it. */
export async function openDataSource(
  url: string,
  options: Partial<Extract<DataSourceOptions, { type: 'postgres' }>> = {},
): Promise<DataSource> {
  const dataSource = new DataSource({ type: 'postgres', url, ...options });
  return dataSource.initialize();
}

/** Whether the run's server is PostgreSQL `major` or newer (known from jest's globalSetup). */
export function serverIsAtLeast(major: number): boolean {
  const versionNum = Number(process.env.MIGRATION_LOCK_TEST_SERVER_VERSION_NUM);
  if (!versionNum)
    throw new Error(
      'MIGRATION_LOCK_TEST_SERVER_VERSION_NUM is not set: run the tests through jest.',
    );
  return versionNum >= major * 10_000;
}
