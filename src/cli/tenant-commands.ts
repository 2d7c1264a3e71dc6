import { resolve } from 'node:path';
import type { DataSource } from 'typeorm';
import { describeSession } from '../errors/lock-session.js';
import { SCHEMAS_LIKE_SQL } from '../tenants/tenant-migrations.sql.js';
import type { TenantStatus } from '../tenants/tenant-status.js';
import type { TenantsOptions } from '../tenants/tenants.options.js';
import { openCliContext, type CommonOptions } from './cli-context.js';
import type { CommandOutput } from './command-output.js';
import { CliUsageError } from './cli.errors.js';
import { EXIT } from './exit-codes.js';
import { signalOnTermination } from './termination-signal.js';
import { TenantProgress } from './tenant-progress.js';

/*
 * `migration-lock tenants run|status`: the tenant migrations over every tenant schema, the work
 * shared with every other process running them (docs/tenants.md).
 */

/** What `tenants run` and `tenants status` take besides the common options. */
export interface TenantCommandOptions extends CommonOptions {
  tenantMigrations: string[];
  /** A query whose first column lists the tenant schemas. */
  schemas?: string;
  /** A LIKE pattern over the database's schema names. */
  schemaPattern?: string;
  concurrency: string;
  createSchemas: boolean;
}

/**
 * Exit 0 when every tenant is current, 1 when any failed, 75 when the only failures are lock
 * timeouts (tenants another process held too long: retry), 2 on bad usage.
 */
export async function tenantsRunCommand(options: TenantCommandOptions): Promise<CommandOutput> {
  const tenants = tenantsFrom(options);
  const progress = options.json ? undefined : new TenantProgress();
  const context = await openCliContext(options, undefined, tenants);
  try {
    const result = await context.tenants.run({
      signal: signalOnTermination(),
      onProgress: progress?.update,
    });
    progress?.stop();
    const { failed } = result;
    const exitCode =
      failed.length === 0
        ? EXIT.OK
        : failed.every((failure) => failure.code === 'LOCK_TIMEOUT')
          ? EXIT.RETRY
          : EXIT.FAILED;
    const summary = `${result.total} tenant schema(s): ${result.migrated} migrated, ${result.current} already current, ${failed.length} failed (${result.durationMs} ms).`;
    return {
      json: { status: failed.length === 0 ? 'done' : 'failed', ...result },
      text: [
        ...failed.map(
          (f) =>
            `failed  ${f.schema}${f.migration ? ` at ${f.migration}` : ''}: ${f.error}${f.code ? ` (${f.code})` : ''}`,
        ),
        summary,
      ].join('\n'),
      exitCode,
    };
  } finally {
    progress?.stop();
    await context.close();
  }
}

/** Every tenant's applied and pending counts and holder: the ones not current listed by name. */
export async function tenantsStatusCommand(options: TenantCommandOptions): Promise<CommandOutput> {
  const context = await openCliContext(options, undefined, tenantsFrom(options));
  try {
    const tenants = await context.tenants.status();
    const count = (state: TenantStatus['state']) =>
      tenants.filter((tenant) => tenant.state === state).length;
    const held = tenants.filter((tenant) => tenant.holder !== null);
    const failed = tenants.filter((tenant) => tenant.lastFailure !== null);
    const listed = tenants.filter((tenant) => tenant.state !== 'current' || tenant.holder);
    return {
      json: { tenants },
      text: [
        ...listed.map(statusLine),
        `${tenants.length} tenant schema(s): ${count('current')} current, ${count('pending')} pending (${failed.length} of them failed last time), ${count('missing')} missing, ${held.length} being migrated now.`,
      ].join('\n'),
    };
  } finally {
    await context.close();
  }
}

function statusLine(tenant: TenantStatus): string {
  const state =
    tenant.state === 'missing'
      ? 'missing  (no such schema)'
      : `${tenant.state.padEnd(8)} ${tenant.applied} applied, ${tenant.pending} pending`;
  const holder = tenant.holder ? `, held by ${describeSession(tenant.holder)}` : '';
  const failure = tenant.lastFailure
    ? `\n  last failed ${tenant.lastFailure.at.toISOString()}${tenant.lastFailure.migration ? ` at ${tenant.lastFailure.migration}` : ''}: ${tenant.lastFailure.error}`
    : '';
  return `${tenant.schema.padEnd(24)} ${state}${holder}${failure}`;
}

/** The module option `tenants` from the command line, checked before any connection. */
function tenantsFrom(options: TenantCommandOptions): (dataSource: DataSource) => TenantsOptions {
  if ((options.schemas === undefined) === (options.schemaPattern === undefined))
    throw new CliUsageError(
      'Give the tenant schemas with exactly one of --schemas <sql> (a query whose first column lists them) or --schema-pattern <like> (e.g. tenant_%).',
    );
  const concurrency = Number(options.concurrency);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1)
    throw new CliUsageError(
      `--concurrency must be a positive integer (tenants migrated at once), not ${JSON.stringify(options.concurrency)}.`,
    );
  // As TypeORM's own CLI: a relative glob is relative to the working directory.
  const migrations = options.tenantMigrations.map((glob) => resolve(glob));
  return (dataSource) => ({
    migrations,
    schemas: () => listSchemas(dataSource, options),
    concurrency,
    // The command reports every failure itself, and its exit code says whether any happened.
    onFailure: 'report',
    createSchemas: options.createSchemas,
  });
}

async function listSchemas(
  dataSource: DataSource,
  options: TenantCommandOptions,
): Promise<string[]> {
  const rows = (
    options.schemaPattern !== undefined
      ? await dataSource.query(SCHEMAS_LIKE_SQL, [options.schemaPattern])
      : await dataSource.query(options.schemas!)
  ) as Array<Record<string, unknown>>;
  // The first column, whatever its name; each name is checked before it reaches a statement.
  return rows.map((row) => Object.values(row)[0] as string);
}
