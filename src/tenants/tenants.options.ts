import { DataSource, type MigrationInterface } from 'typeorm';
import type { TenantFailure } from '../errors/migration.errors.js';
import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import { checkBoolean, checkOneOf } from '../errors/option-checks.js';
import { codeMigrations, type CodeMigration } from '../migration-runner/code-migrations.js';
import { checkTenantSchema } from './tenant-schema.js';

/** The module option `tenants`: one schema per tenant, each migrated with the tenant migrations. */
export interface TenantsOptions {
  /** The tenant migrations: classes or globs, as TypeORM's `migrations` option takes them. */
  migrations: Array<string | (new () => MigrationInterface)>;
  /**
   * The tenant schemas, or a function (async) returning them, called after the shared migrations
   * on every run (a shared migration may make the table it reads).
   */
  schemas: readonly string[] | (() => readonly string[] | Promise<readonly string[]>);
  /** Tenants migrated at once by this replica, each on a pooled connection. @default 4 */
  concurrency?: number;
  /**
   * `'fail'`: once every other tenant is done, the run throws TenantMigrationsFailedError naming
   * the failed ones (start-up stops). `'report'`: start-up goes on; they are in events and state.
   * @default 'fail'
   */
  onFailure?: 'fail' | 'report';
  /** Create a listed schema that does not exist (else it is a failed tenant). @default false */
  createSchemas?: boolean;
}

/** What a tenant run tells a listener (the module option `events`). */
export interface TenantEvents {
  /** This replica holds a tenant's lock and found migrations pending. */
  tenantStarted?(event: { schema: string; pending: number }): void;
  tenantMigrated?(event: { schema: string; applied: string[]; durationMs: number }): void;
  tenantFailed?(event: TenantFailure): void;
  tenantsDone?(event: {
    total: number;
    migrated: number;
    current: number;
    failed: number;
    durationMs: number;
  }): void;
}

/** What a replica's tenant run did: tenants it migrated, found current, and failures. */
export interface TenantsResult {
  readonly total: number;
  /** Tenants this replica applied migrations to. */
  readonly migrated: number;
  /** Tenants already current when this replica looked (another replica may have migrated them). */
  readonly current: number;
  readonly failed: readonly TenantFailure[];
  readonly durationMs: number;
}

/** Where a replica's tenant run is: told after every tenant it finished with. */
export interface TenantsProgress {
  readonly total: number;
  /** Migrated, found current or failed, by this replica. */
  readonly done: number;
  readonly failed: number;
  readonly elapsedMs: number;
}

export interface ResolvedTenantsOptions {
  /** The tenant migrations, loaded once (classes and globs alike), sorted as TypeORM sorts them. */
  readonly migrations: () => Promise<CodeMigration[]>;
  readonly schemas: () => Promise<readonly string[]>;
  readonly concurrency: number;
  readonly onFailure: 'fail' | 'report';
  readonly createSchemas: boolean;
}

const WHERE = 'MigrationLockModule';

/** `tenants` checked (a listed schema name too) before any SQL; undefined when not given. */
export function resolveTenantsOptions(value: unknown): ResolvedTenantsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null)
    throw new InvalidOptionsError(
      messages.invalidOption(WHERE, 'tenants', '{ migrations, schemas, … }', value),
    );
  const given = value as Partial<TenantsOptions>;
  if (!Array.isArray(given.migrations))
    throw new InvalidOptionsError(
      messages.invalidOption(
        WHERE,
        'tenants.migrations',
        'an array of classes or globs',
        given.migrations,
      ),
    );
  const { schemas } = given;
  if (Array.isArray(schemas)) {
    for (const schema of schemas)
      try {
        checkTenantSchema(schema);
      } catch (error) {
        throw new InvalidOptionsError((error as Error).message);
      }
  } else if (typeof schemas !== 'function')
    throw new InvalidOptionsError(
      messages.invalidOption(
        WHERE,
        'tenants.schemas',
        'an array of schema names or a function',
        schemas,
      ),
    );
  const concurrency = given.concurrency ?? 4;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1)
    throw new InvalidOptionsError(
      messages.invalidOption(WHERE, 'tenants.concurrency', 'a positive integer', concurrency),
    );
  return {
    migrations: loadOnce(given.migrations),
    schemas: async () =>
      Array.isArray(schemas) ? schemas : await (schemas as () => readonly string[])(),
    concurrency,
    onFailure:
      given.onFailure === undefined
        ? 'fail'
        : checkOneOf(WHERE, 'tenants.onFailure', given.onFailure, ['fail', 'report'] as const),
    createSchemas:
      given.createSchemas === undefined
        ? false
        : checkBoolean(WHERE, 'tenants.createSchemas', given.createSchemas),
  };
}

/**
 * The tenant migrations loaded as TypeORM loads a DataSource's (globs imported, classes made), by
 * a DataSource that is never initialized: it opens no connection.
 */
function loadOnce(migrations: TenantsOptions['migrations']): () => Promise<CodeMigration[]> {
  let loaded: Promise<CodeMigration[]> | undefined;
  return () => {
    loaded ??= (async () => {
      const holder = new DataSource({ type: 'postgres', migrations });
      await (holder as unknown as { buildMetadatas(): Promise<void> }).buildMetadatas();
      return codeMigrations(holder);
    })();
    return loaded;
  };
}
