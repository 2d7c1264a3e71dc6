import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { withClient } from './admin-client.js';
import { round } from './stats.js';

/*
 * `npm run bench:tenant-scale`: one process with the module over 1 000 and then 10 000 tenant
 * schemas (2 migrations each, DATABASE_URL's server), each on a fresh database: the peak resident
 * memory of the process must stay flat (no DataSource, pool or state per tenant), and the time per
 * tenant too. Too slow for every bench run (10 000 schemas are made and migrated); its figures go
 * in docs/benchmarks.md by hand.
 */
const run = promisify(execFile);
const REPLICA = fileURLToPath(new URL('./peers/tenant-replica.js', import.meta.url));
const { values } = parseArgs({
  options: { tenants: { type: 'string', default: '1000,10000' }, migrations: { type: 'string' } },
});
const sizes = values.tenants.split(',').map(Number);
const migrations = Number(values.migrations ?? 2);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const results: Array<{ tenants: number; msPerTenant: number; maxRssMb: number }> = [];
for (const tenants of sizes) {
  const name = `bench_tenant_scale_${process.pid}_${tenants}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  try {
    const url = withDatabase(adminUrl, name);
    await withClient(url, (c) =>
      c.query(
        `DO $$ BEGIN FOR i IN 1..${tenants} LOOP EXECUTE format('CREATE SCHEMA %I', 'tenant_' || lpad(i::text, 5, '0')); END LOOP; END $$`,
      ),
    );
    const { stdout } = await run(process.execPath, [REPLICA, url, String(migrations), 'module'], {
      maxBuffer: 1 << 20,
    });
    const peer = JSON.parse(stdout) as { ms: number; migrated: number; maxRssMb: number };
    if (peer.migrated !== tenants) throw new Error(`migrated ${peer.migrated} of ${tenants}`);
    results.push({
      tenants,
      msPerTenant: round(peer.ms / tenants, 2),
      maxRssMb: round(peer.maxRssMb, 1),
    });
    console.error(`${tenants} tenants: ${JSON.stringify(results.at(-1))}`);
  } finally {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
  }
}
const [first, last] = [results[0], results.at(-1)!];
console.log(
  JSON.stringify({
    tenantsScale: {
      results,
      memoryRatio: round(last.maxRssMb / first.maxRssMb),
      timePerTenantRatio: round(last.msPerTenant / first.msPerTenant),
      migrations,
    },
  }),
);
