import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { TenantMigrationService } from '../../src/tenants/tenant-migration.service.js';
import { resolveTenantsOptions } from '../../src/tenants/tenants.options.js';
import { tenantMigrations } from '../tenant-migrations.js';

/*
 * One process of the tenant bench over every schema named tenant_%: `module` runs
 * TenantMigrationService (default concurrency, the work shared with any other such process);
 * `typeorm-loop` is what users write today, a DataSource per schema (`schema` and its search path
 * set), runMigrations(), destroy(), one schema after the other. Prints { ms, migrated, maxRssMb }
 * as JSON (maxRssMb: the process's peak resident memory, what a 10 000-tenant run is judged by).
 */
const [url, countArg, mode] = process.argv.slice(2);
const migrations = tenantMigrations(Number(countArg));
Logger.overrideLogger(false);

async function schemas(): Promise<string[]> {
  const dataSource = await new DataSource({ type: 'postgres', url }).initialize();
  const rows = (await dataSource.query(
    `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY nspname`,
  )) as Array<{ nspname: string }>;
  await dataSource.destroy();
  return rows.map((row) => row.nspname);
}

const list = await schemas();
const started = performance.now();
let migrated = 0;
if (mode === 'module') {
  const dataSource = await new DataSource({ type: 'postgres', url }).initialize();
  const service = new TenantMigrationService(
    dataSource,
    new AdvisoryLockService(dataSource),
    { id: 'migrations', type: 'Migrations', timeoutMs: 600_000 },
    resolveTenantsOptions({ migrations, schemas: list })!,
  );
  migrated = (await service.run()).migrated;
  await dataSource.destroy();
} else {
  for (const schema of list) {
    const dataSource = await new DataSource({
      type: 'postgres',
      url,
      schema,
      extra: { options: `-c search_path=${schema},public` },
      migrations,
      migrationsTransactionMode: 'all',
    }).initialize();
    if ((await dataSource.runMigrations()).length > 0) migrated++;
    await dataSource.destroy();
  }
}
const maxRssMb = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ ms: performance.now() - started, migrated, maxRssMb }));
