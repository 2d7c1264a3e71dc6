import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { AdvisoryLockService } from '../src/lock/advisory-lock.service.js';
import { tenantLockKey } from '../src/tenants/tenant-lock-key.js';
import { TenantMigrationService } from '../src/tenants/tenant-migration.service.js';
import { resolveTenantsOptions } from '../src/tenants/tenants.options.js';
import { withClient } from './admin-client.js';
import { median, round } from './stats.js';
import { tenantMigrationRows, tenantMigrations, tenantStatements } from './tenant-migrations.js';

/*
 * Schema-per-tenant: `tenants` schemas × `migrations` tenant migrations on one server, each
 * measurement on a database of its own made for it.
 * - tenants1000VsTypeormLoop: one process with TenantMigrationService (default concurrency) ÷ the
 *   loop users write today (a DataSource per schema, runMigrations(), destroy()), each timed inside
 *   its process after the imports.
 * - tenantsFleet4VsOne: 4 such processes started at once ÷ 1, wall time from spawn to the last exit,
 *   and each process's share of the tenants.
 * - tenantOverheadVsRaw: per tenant, the service at concurrency 1 ÷ one raw pg client sending the
 *   same statements (lock, search path, migrations table, the migrations, their rows, commit),
 *   interleaved `runs` times.
 */
const run = promisify(execFile);
const REPLICA = fileURLToPath(new URL('./peers/tenant-replica.js', import.meta.url));

export interface TenantBenchResults {
  tenants1000VsTypeormLoop: {
    ratio: number;
    moduleMs: number;
    typeormMs: number;
    tenants: number;
    migrations: number;
    concurrency: number;
  };
  tenantsFleet4VsOne: {
    ratio: number;
    fleetMs: number;
    oneMs: number;
    /** Tenants each of the 4 processes migrated. */
    shares: number[];
    tenants: number;
  };
  tenantOverheadVsRaw: {
    ratio: number;
    moduleMsPerTenant: number;
    rawMsPerTenant: number;
    tenants: number;
    runs: number;
  };
}

type Peer = { ms: number; migrated: number };

export async function benchTenants(
  adminUrl: string,
  options: { tenants: number; migrations: number; overheadTenants: number; runs: number },
): Promise<TenantBenchResults> {
  const peer = async (url: string, mode: string): Promise<Peer> =>
    JSON.parse(
      (await run(process.execPath, [REPLICA, url, String(options.migrations), mode])).stdout,
    ) as Peer;

  const module = await onTenantDatabase(adminUrl, options.tenants, (url) => peer(url, 'module'));
  const typeorm = await onTenantDatabase(adminUrl, options.tenants, (url) =>
    peer(url, 'typeorm-loop'),
  );
  const one = await onTenantDatabase(adminUrl, options.tenants, async (url) => {
    const started = performance.now();
    await peer(url, 'module');
    return performance.now() - started;
  });
  const fleet = await onTenantDatabase(adminUrl, options.tenants, async (url) => {
    const started = performance.now();
    const peers = await Promise.all([1, 2, 3, 4].map(() => peer(url, 'module')));
    return { ms: performance.now() - started, shares: peers.map((p) => p.migrated) };
  });

  const moduleTimes: number[] = [];
  const rawTimes: number[] = [];
  Logger.overrideLogger(false);
  for (let i = 0; i < options.runs; i++) {
    const pair = [
      () =>
        onTenantDatabase(adminUrl, options.overheadTenants, (url) =>
          serviceRun(url, options.migrations),
        ),
      () =>
        onTenantDatabase(adminUrl, options.overheadTenants, (url) =>
          rawRun(url, options.migrations),
        ),
    ] as const;
    // Alternating which goes first, so that drift on the machine hits both alike.
    const [a, b] = i % 2 === 0 ? [pair[0], pair[1]] : [pair[1], pair[0]];
    const first = await a();
    const second = await b();
    moduleTimes.push(i % 2 === 0 ? first : second);
    rawTimes.push(i % 2 === 0 ? second : first);
  }
  Logger.overrideLogger(['log', 'error', 'warn']);
  return {
    tenants1000VsTypeormLoop: {
      ratio: round(module.ms / typeorm.ms),
      moduleMs: round(module.ms, 1),
      typeormMs: round(typeorm.ms, 1),
      tenants: options.tenants,
      migrations: options.migrations,
      concurrency: 4,
    },
    tenantsFleet4VsOne: {
      ratio: round(fleet.ms / one),
      fleetMs: round(fleet.ms, 1),
      oneMs: round(one, 1),
      shares: fleet.shares,
      tenants: options.tenants,
    },
    tenantOverheadVsRaw: {
      ratio: round(median(moduleTimes.map((m, i) => m / rawTimes[i]))),
      // The first tenant warms the service's code and is not timed, on either side.
      moduleMsPerTenant: round(median(moduleTimes) / (options.overheadTenants - 1), 2),
      rawMsPerTenant: round(median(rawTimes) / (options.overheadTenants - 1), 2),
      tenants: options.overheadTenants,
      runs: options.runs,
    },
  };
}

/** `work` on a fresh database with `count` empty schemas tenant_00001 …, dropped after. */
export async function onTenantDatabase<T>(
  adminUrl: string,
  count: number,
  work: (url: string) => Promise<T>,
): Promise<T> {
  const name = `bench_tenants_${process.pid}_${Date.now()}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  try {
    const url = withDatabase(adminUrl, name);
    await withClient(url, (c) =>
      c.query(
        `DO $$ BEGIN FOR i IN 1..${count} LOOP EXECUTE format('CREATE SCHEMA %I', 'tenant_' || lpad(i::text, 5, '0')); END LOOP; END $$`,
      ),
    );
    return await work(url);
  } finally {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
  }
}

async function schemaList(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY nspname`,
  );
  return rows.map((row) => row.nspname);
}

/** The service at concurrency 1, in this process: ms for every tenant. */
async function serviceRun(url: string, count: number): Promise<number> {
  const dataSource = await new DataSource({ type: 'postgres', url }).initialize();
  try {
    const service = new TenantMigrationService(
      dataSource,
      new AdvisoryLockService(dataSource),
      { id: 'migrations', type: 'Migrations', timeoutMs: 600_000 },
      resolveTenantsOptions({
        migrations: tenantMigrations(count),
        schemas: async () => schemasOf(dataSource),
        concurrency: 1,
      })!,
    );
    // The migrations loaded and the code warmed on a first tenant, as a long run is.
    await service.migrateTenant('tenant_00001');
    const started = performance.now();
    await service.run();
    return performance.now() - started;
  } finally {
    await dataSource.destroy();
  }
}

async function schemasOf(dataSource: DataSource): Promise<string[]> {
  const rows = (await dataSource.query(
    `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY nspname`,
  )) as Array<{ nspname: string }>;
  return rows.map((row) => row.nspname);
}

/**
 * The floor: one raw client, per tenant the statements the service sends (its lock, the schema
 * and table checks, the search path, the table, the migrations, their rows) in one transaction.
 */
async function rawRun(url: string, count: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const statements = tenantStatements(count);
    const rows = tenantMigrationRows(count)
      .map(({ name, timestamp }) => `(${timestamp}, '${name}')`)
      .join(', ');
    const schemas = await schemaList(client);
    const started = performance.now();
    for (const schema of schemas.slice(1)) {
      const [k1, k2] = tenantLockKey('migrations', 'Migrations', schema);
      await client.query('BEGIN');
      await client.query(`SELECT pg_try_advisory_xact_lock(${k1}, ${k2}) AS acquired`);
      await client.query(
        `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') AS present`,
      );
      await client.query(`SET LOCAL search_path = "${schema}", public`);
      await client.query(`SELECT to_regclass('"${schema}"."migrations"') IS NOT NULL AS present`);
      await client.query(
        `CREATE TABLE "${schema}"."migrations" ("id" SERIAL NOT NULL, "timestamp" bigint NOT NULL, "name" character varying NOT NULL, CONSTRAINT "PK_m" PRIMARY KEY ("id"))`,
      );
      for (const sql of statements) await client.query(sql);
      await client.query(
        `INSERT INTO "${schema}"."migrations" ("timestamp", "name") VALUES ${rows}`,
      );
      await client.query('COMMIT');
    }
    return performance.now() - started;
  } finally {
    await client.end();
  }
}
