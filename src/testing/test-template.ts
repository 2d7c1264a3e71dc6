import type pg from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import { advisoryLockKey } from '../lock/lock-key.js';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../module/resolve-options.js';
import { isLeftover, isTestDatabase, type Naming } from './test-database-names.js';
import { SESSION_UNLOCK_SQL, TRY_SESSION_LOCK_SQL } from '../lock/session-lock.sql.js';
import {
  commentOnDatabaseSql,
  createDatabaseSql,
  dropDatabaseSql,
  markTemplateSql,
  ORPHAN_TEMPLATES_SQL,
  TEMPLATE_COMMENT_PREFIX,
  unmarkTemplateSql,
} from './test-database.sql.js';

/*
 * The template a test database is cloned from: built once per migration set, under the template
 * lock the caller holds, and the databases that can no longer be used cleaned up on the way.
 */

type PostgresOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

/** Lock type of a template's lock (its id: the template's name). */
export const TEMPLATE_LOCK_TYPE = 'TestTemplate';

/**
 * Creates the template and migrates it with the module's own runner, under the migration lock, then
 * marks it complete. A template left incomplete (its builder died) is dropped first; older
 * templates of the namespace go too (one in use by another process stays, and goes next time), and
 * so do templates whose namespace's database no longer exists (see dropOrphanTemplates).
 */
export async function buildTemplate(
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
    // The template is this run's own work: there is no history to check it against.
    await new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
      validate: 'off',
    }).run();
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
    const { rows: tried } = await admin.query<{ acquired: boolean }>(TRY_SESSION_LOCK_SQL, [
      ...lock,
    ]);
    if (!tried[0].acquired) continue;
    try {
      await admin.query(unmarkTemplateSql(name));
      await admin.query(dropDatabaseSql(name));
    } catch {
      // Someone still connected to it: the next build tries again.
    } finally {
      await admin.query(SESSION_UNLOCK_SQL, [...lock]).catch(() => undefined);
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
export async function dropLeftovers(
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

/** The options pointed at `database`, on the same server with the same credentials. */
export function pointedAt(options: PostgresOptions, database: string): PostgresOptions {
  if (!options.url) return { ...options, database };
  const url = new URL(options.url);
  url.pathname = `/${database}`;
  return { ...options, url: url.toString(), database: undefined };
}
