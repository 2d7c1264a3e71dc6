import { runner } from 'node-pg-migrate';
import { fileURLToPath } from 'node:url';
import { servePeerReplica } from './peer-replica.js';

/*
 * A peer replica for the benchmark: node-pg-migrate (with its default advisory lock) running the
 * reference migrations, speaking the same fork protocol as the reference-service replica.
 */
const MIGRATIONS_DIR = fileURLToPath(
  new URL('../../../bench/peers/node-pg-migrate', import.meta.url),
);

servePeerReplica(async () => {
  const applied = await runner({
    databaseUrl: process.env.DATABASE_URL!,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    log: () => undefined,
  });
  return applied.map((migration) => migration.name);
});
