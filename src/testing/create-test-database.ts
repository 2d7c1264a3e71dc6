import pg from 'pg';
import type { DataSourceOptions } from 'typeorm';
import {
  InvalidOptionsError,
  TestDatabaseThroughPoolerError,
} from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { checkBoolean, checkOptionsObject, checkTimeoutMs } from '../errors/option-checks.js';
import { backendPidBehindPooler } from '../connection/backend-key.js';
import type { PgClient } from '../connection/lock-connection.js';
import { advisoryLockKey } from '../lock/lock-key.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../lock/lock-request.js';
import { dropOnExit, forget } from './exit-cleanup.js';
import { claimSpare, prepareSpare } from './spare-clones.js';
import { namespaceDatabases } from './namespace-databases.js';
import { namesFor } from './test-database-names.js';
import { buildTemplate, dropLeftovers, pointedAt, TEMPLATE_LOCK_TYPE } from './test-template.js';
import { SESSION_LOCK_SQL, SESSION_UNLOCK_SQL } from '../lock/session-lock.sql.js';
import { cloneDatabaseSql, dropDatabaseSql } from './test-database.sql.js';

type PostgresOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

export interface CreateTestDatabaseOptions {
  /**
   * The app's TypeORM options for PostgreSQL, `migrations` included. The server they point at
   * holds the template and the test databases; their database is only used to connect.
   */
  dataSourceOptions: PostgresOptions;
  /**
   * Longest wait for another process building the same template (the first test file to start
   * migrates it; the others wait for it).
   * @default 300000 (5 minutes, as the lock's)
   */
  timeoutMs?: number;
  /**
   * Once this database is made, clone the next one in the background (one spare per process), so
   * the next call — the next test file of this Jest worker, or of another, or (vitest, node --test)
   * the next test file's own process — only renames it: a few milliseconds instead of a clone. A
   * spare nobody claimed is dropped once the test runner has ended (at most 10 s after this process).
   * @default true
   */
  prepareNext?: boolean;
}

export interface TestDatabase {
  /** The new database's name. */
  readonly name: string;
  /** A connection URL of the new database. */
  readonly url: string;
  /** The app's options, pointed at the new database: pass them to TypeOrmModule.forRoot. */
  readonly dataSourceOptions: PostgresOptions;
  /** Drops the database (ending sessions a test left open). Also done at process exit. */
  drop(): Promise<void>;
}

const WHERE = 'createTestDatabase';

/**
 * A new database holding every migration, cloned (`CREATE DATABASE … TEMPLATE`) from a template that
 * was migrated once: the first call for a migration set builds the template under the migration
 * lock, every later call (any Jest worker, any test file) only clones it — or, when a spare clone
 * made ahead is ready (`prepareNext`), renames that, in milliseconds. Adding or changing a
 * migration makes a new template; older ones of the same database are dropped then.
 */
export async function createTestDatabase(
  options: CreateTestDatabaseOptions,
): Promise<TestDatabase> {
  const { dataSourceOptions, timeoutMs, prepareNext } = checkOptions(options);
  const naming = await namesFor(dataSourceOptions);
  const admin = await connectAdmin(dataSourceOptions, timeoutMs);
  try {
    await admin.query(SESSION_LOCK_SQL, [...advisoryLockKey(naming.template, TEMPLATE_LOCK_TYPE)]);
    try {
      const existing = await namespaceDatabases(admin, naming.namespace);
      if (!existing.get(naming.template)) {
        await buildTemplate(admin, dataSourceOptions, naming.template, existing);
      }
      await dropLeftovers(admin, naming, existing);
      const name = naming.newDatabase();
      const server = [dataSourceOptions, pointedAt(dataSourceOptions, 'postgres')].map(
        connectionConfig,
      );
      dropOnExit(server, name);
      const claimed = await claimSpare(admin, naming, existing.keys(), name, timeoutMs);
      if (!claimed) await admin.query(cloneDatabaseSql(name, naming.template));
      if (prepareNext) prepareSpare(server, naming, existing.keys(), claimed);
      return testDatabase(dataSourceOptions, name);
    } finally {
      // A failed unlock must not hide why the call failed: the lock ends with the session anyway.
      await admin
        .query(SESSION_UNLOCK_SQL, [...advisoryLockKey(naming.template, TEMPLATE_LOCK_TYPE)])
        .catch(() => undefined);
    }
  } finally {
    // Not awaited: the lock is already released, and a backend's exit is a large share of a call
    // that claims a spare (docs/benchmarks.md), which the caller need not wait for.
    void admin.end().catch(() => undefined);
  }
}

function checkOptions(options: unknown): {
  dataSourceOptions: PostgresOptions;
  timeoutMs: number;
  prepareNext: boolean;
} {
  const given = checkOptionsObject(WHERE, options, { required: true });
  const dataSourceOptions = given.dataSourceOptions as PostgresOptions | undefined;
  if (typeof dataSourceOptions !== 'object' || dataSourceOptions?.type !== 'postgres') {
    throw new InvalidOptionsError(
      messages.invalidOption(
        WHERE,
        'dataSourceOptions',
        "TypeORM options with type: 'postgres'",
        dataSourceOptions,
      ),
    );
  }
  return {
    dataSourceOptions,
    timeoutMs:
      given.timeoutMs === undefined
        ? DEFAULT_LOCK_TIMEOUT_MS
        : checkTimeoutMs(WHERE, 'timeoutMs', given.timeoutMs),
    prepareNext:
      given.prepareNext === undefined
        ? true
        : checkBoolean(WHERE, 'prepareNext', given.prepareNext),
  };
}

/** pg connection settings of the options' own database (never printed: they may hold a password). */
function connectionConfig(options: PostgresOptions): pg.ClientConfig {
  return {
    connectionString: options.url,
    host: options.host,
    port: options.port,
    user: options.username,
    password: typeof options.password === 'string' ? options.password : undefined,
    database: options.database,
    ssl: options.ssl as pg.ClientConfig['ssl'],
  };
}

async function connectAdmin(options: PostgresOptions, timeoutMs: number): Promise<pg.Client> {
  const admin = new pg.Client({
    ...connectionConfig(options),
    application_name: 'nestjs-migration-lock:testing',
  });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    // The template lock is session-level: it must be held by a server connection of our own.
    const { processID } = admin as unknown as Pick<PgClient, 'processID'>;
    const backendPid = await backendPidBehindPooler(admin as unknown as PgClient);
    if (backendPid !== undefined) throw new TestDatabaseThroughPoolerError(backendPid, processID);
    await admin.query(`SET lock_timeout = ${Math.round(timeoutMs)}`);
    return admin;
  } catch (error) {
    void admin.end().catch(() => undefined);
    throw error;
  }
}

function testDatabase(options: PostgresOptions, name: string): TestDatabase {
  const dataSourceOptions = pointedAt(options, name);
  const url = new URL(options.url ?? 'postgres://localhost');
  if (!options.url) {
    url.hostname = options.host ?? 'localhost';
    url.port = String(options.port ?? 5432);
    url.username = encodeURIComponent(options.username ?? '');
    if (typeof options.password === 'string') url.password = encodeURIComponent(options.password);
  }
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    dataSourceOptions,
    drop: async () => {
      const admin = await connectAdmin(options, 60_000);
      try {
        await admin.query(dropDatabaseSql(name));
      } finally {
        forget(name);
        await admin.end();
      }
    },
  };
}
