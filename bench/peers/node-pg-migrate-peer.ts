import { runner } from 'node-pg-migrate';
import { fileURLToPath } from 'node:url';
import { servePeerReplica } from './peer-replica.js';

/*
 * A peer replica for the benchmark: node-pg-migrate with its advisory lock running the reference
 * migrations, speaking the same fork protocol as the reference-service replica. `fail` is its
 * default (a replica that finds the lock held crashes); `wait` blocks until the lock is free.
 */
const MIGRATIONS_DIR = fileURLToPath(
  new URL('../../../bench/peers/node-pg-migrate', import.meta.url),
);

export function serveNodePgMigrate(advisoryLockMode: 'fail' | 'wait'): void {
  servePeerReplica(async () => {
    const applied = await runner({
      databaseUrl: process.env.DATABASE_URL!,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      advisoryLockMode,
      log: () => undefined,
    });
    return applied.map((migration) => migration.name);
  });
}
