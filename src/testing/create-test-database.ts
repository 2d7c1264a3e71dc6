import pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  InvalidOptionsError,
  TestDatabaseThroughPoolerError,
} from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { checkBoolean, checkOptionsObject, checkTimeoutMs } from '../errors/option-checks.js';
import { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { backendPidBehindPooler } from '../connection/backend-key.js';
import type { PgClient } from '../connection/lock-connection.js';
import { advisoryLockKey } from '../lock/lock-key.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../module/migration-lock-options.js';
import { dropOnExit, forget } from './exit-cleanup.js';
import { claimSpare, prepareSpare } from './spare-clones.js';
import { namespaceDatabases } from './namespace-databases.js';
import { isLeftover, isTestDatabase, namesFor, type Naming } from './test-database-names.js';
import {
  cloneDatabaseSql,
  commentOnDatabaseSql,
  createDatabaseSql,
  dropDatabaseSql,
  ADVISORY_LOCK_SQL,
  markTemplateSql,
  ORPHAN_TEMPLATES_SQL,
  TEMPLATE_COMMENT_PREFIX,
  TRY_ADVISORY_LOCK_SQL,
  unmarkTemplateSql,
  ADVISORY_UNLOCK_SQL,
} from './test-database.sql.js';

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
   * @default 300000 (5 minutes)
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
const TEMPLATE_LOCK_TYPE = 'TestTemplate';

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
    await admin.query(ADVISORY_LOCK_SQL, [...advisoryLockKey(naming.template, TEMPLATE_LOCK_TYPE)]);
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
        .query(ADVISORY_UNLOCK_SQL, [...advisoryLockKey(naming.template, TEMPLATE_LOCK_TYPE)])
        .catch(() => undefined);
    }
  } finally {
    // Not awaited: the lock is already released, and a backend's exit takes 10–20 ms the caller
    // does not need to wait for (a third of a call that claims a spare).
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
      given.timeoutMs === undefined ? 300_000 : checkTimeoutMs(WHERE, 'timeoutMs', given.timeoutMs),
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

/** The options pointed at `database`, on the same server with the same credentials. */
function pointedAt(options: PostgresOptions, database: string): PostgresOptions {
  if (!options.url) return { ...options, database };
  const url = new URL(options.url);
  url.pathname = `/${database}`;
  return { ...options, url: url.toString(), database: undefined };
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

// ------------------------------------------------------------------ template

/**
 * Creates the template and migrates it with the module's own runner, under the migration lock, then
 * marks it complete. A template left incomplete (its builder died) is dropped first; older
 * templates of the namespace go too (one in use by another process stays, and goes next time), and
 * so do templates whose namespace's database no longer exists (see dropOrphanTemplates).
 */
async function buildTemplate(
  admin: pg.Client,
  options: PostgresOptions,
  template: string,
  existing: Map<string, boolean>,
): Promise<void> {
  for (const [name, complete] of existing) {
    if (isTestDatabase(name)) continue;
    if (complete) await admin.query(unmarkTemplateSql(name)).catch(() => undefined);
    await admin.query(dropDatabaseSql(name)).catch(() => undefined);
  }
  await dropOrphanTemplates(admin);
  await admin.query(createDatabaseSql(template));
  const source = sourceDatabase(options);
  if (source) {
    const comment = admin.escapeLiteral(`${TEMPLATE_COMMENT_PREFIX}${source}`);
    await admin.query(commentOnDatabaseSql(template, comment));
  }
  const dataSource = await new DataSource({
    ...pointedAt(options, template),
    migrationsRun: false,
    synchronize: false,
    dropSchema: false,
    poolSize: 2,
  }).initialize();
  try {
    await new MigrationRunnerService(
      dataSource,
      new AdvisoryLockService(dataSource),
      DEFAULT_OPTIONS,
    ).run();
  } finally {
    await dataSource.destroy();
  }
  await admin.query(markTemplateSql(template));
}

/**
 * Templates of databases that no longer exist, e.g. a CI job's database dropped after its run: a
 * namespace is the database the options point at, so no call can reach them again, and without this
 * each such job would leave a migrated copy on a shared server. Each goes under its own template
 * lock, taken without waiting: a template still in use is left for a later build.
 */
async function dropOrphanTemplates(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ name: string }>(ORPHAN_TEMPLATES_SQL, [
    TEMPLATE_COMMENT_PREFIX,
  ]);
  for (const { name } of rows) {
    const lock = advisoryLockKey(name, TEMPLATE_LOCK_TYPE);
    const { rows: tried } = await admin.query<{ acquired: boolean }>(TRY_ADVISORY_LOCK_SQL, [
      ...lock,
    ]);
    if (!tried[0].acquired) continue;
    try {
      await admin.query(unmarkTemplateSql(name));
      await admin.query(dropDatabaseSql(name));
    } catch {
      // Someone still connected to it: the next build tries again.
    } finally {
      await admin.query(ADVISORY_UNLOCK_SQL, [...lock]).catch(() => undefined);
    }
  }
}

/** The database the options point at (a template's namespace), when they name one. */
function sourceDatabase(options: PostgresOptions): string | undefined {
  if (!options.url) return options.database;
  return decodeURIComponent(new URL(options.url).pathname.slice(1)) || undefined;
}

/**
 * Test databases of processes on this host that no longer run (killed, and their cleanup with
 * them), and such processes' spares of older templates; taken out of `existing` too.
 */
async function dropLeftovers(
  admin: pg.Client,
  naming: Naming,
  existing: Map<string, boolean>,
): Promise<void> {
  for (const name of [...existing.keys()]) {
    // A spare of this template is a finished clone (a database exists only once its CREATE
    // committed), whoever made it: claimed below, not dropped.
    if (!isLeftover(name) || naming.isSpare(name)) continue;
    existing.delete(name);
    await admin.query(dropDatabaseSql(name)).catch(() => undefined);
  }
}
