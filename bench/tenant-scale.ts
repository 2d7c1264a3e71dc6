import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { round } from './stats.js';
import { withTenantScaleSection } from './tenant-scale-section.js';
import { onTenantDatabase } from './tenants.bench.js';

/*
 * `npm run bench:tenant-scale`: one process with the module over 1 000 and then 10 000 tenant
 * schemas (2 migrations each, DATABASE_URL's server), each on a fresh database: the peak resident
 * memory of the process must stay flat (no DataSource, pool or state per tenant), and the time per
 * tenant too. Too slow for every bench run (10 000 schemas are made and migrated): `--out docs`
 * writes its figures into their own section of docs/benchmarks.md.
 */
const run = promisify(execFile);
const REPLICA = fileURLToPath(new URL('./peers/tenant-replica.js', import.meta.url));
const { values } = parseArgs({
  options: {
    tenants: { type: 'string', default: '1000,10000' },
    migrations: { type: 'string' },
    out: { type: 'string' },
  },
});
const sizes = values.tenants.split(',').map(Number);
const migrations = Number(values.migrations ?? 2);
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const results: Array<{ tenants: number; msPerTenant: number; maxRssMb: number }> = [];
for (const tenants of sizes) {
  const peer = await onTenantDatabase(adminUrl, tenants, async (url) => {
    const { stdout } = await run(process.execPath, [REPLICA, url, String(migrations), 'module'], {
      maxBuffer: 1 << 20,
    });
    return JSON.parse(stdout) as { ms: number; migrated: number; maxRssMb: number };
  });
  if (peer.migrated !== tenants) throw new Error(`migrated ${peer.migrated} of ${tenants}`);
  results.push({
    tenants,
    msPerTenant: round(peer.ms / tenants, 2),
    maxRssMb: round(peer.maxRssMb, 1),
  });
  console.error(`${tenants} tenants: ${JSON.stringify(results.at(-1))}`);
}
const [first, last] = [results[0], results.at(-1)!];
const tenantsScale = {
  results,
  memoryRatio: round(last.maxRssMb / first.maxRssMb),
  timePerTenantRatio: round(last.msPerTenant / first.msPerTenant),
  migrations,
};
if (values.out) {
  const file = join(values.out, 'benchmarks.md');
  const page = await readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  await writeFile(file, withTenantScaleSection(page, scaleMarkdown(tenantsScale)));
}
console.log(JSON.stringify({ tenantsScale }));

function scaleMarkdown(scale: typeof tenantsScale): string {
  const postgres = process.env.DATABASE_URL ? 'DATABASE_URL=<server> ' : '';
  return [
    '## Tenant scale',
    '',
    `Measured by \`${postgres}npm run bench:tenant-scale -- --out docs\` (${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, Node ${process.version}): one process with the module (default concurrency) over fresh databases of N tenant schemas × ${scale.migrations} migrations. Memory must stay flat: no DataSource, pool or state per tenant.`,
    '',
    '| tenants | time per tenant | peak resident memory |',
    '| --- | --- | --- |',
    ...scale.results.map(
      (r) => `| ${r.tenants} | ${r.msPerTenant.toFixed(2)} ms | ${r.maxRssMb.toFixed(1)} MB |`,
    ),
    '',
    `${scale.results.at(-1)!.tenants} ÷ ${scale.results[0].tenants} tenants: memory ${scale.memoryRatio.toFixed(2)}, time per tenant ${scale.timePerTenantRatio.toFixed(2)}.`,
  ].join('\n');
}
