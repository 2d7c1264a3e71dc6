import { spawnSync } from 'node:child_process';
import type pg from 'pg';

/*
 * Test databases not dropped by the time the process exits (a test file that forgot drop(), a Jest
 * worker ended with process.exit) are dropped then. An 'exit' handler cannot wait for a query, so
 * it runs one short synchronous child process that connects and drops them. A process killed
 * outright leaves them behind; the next createTestDatabase on this host drops those (their pid
 * no longer runs).
 */
const pending = new Map<string, pg.ClientConfig>();
let hooked = false;

/** Child script: pg resolved from the app (a peer of this package), one DROP per database. */
const DROP_SCRIPT = `
const pg = require(require.resolve('pg', { paths: [process.cwd(), __dirname] }));
(async () => {
  for (const [name, config] of JSON.parse(process.env.MIGRATION_LOCK_DROP)) {
    const client = new pg.Client(config);
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('DROP DATABASE IF EXISTS "' + name + '" WITH (FORCE)');
    } catch {}
    await client.end().catch(() => undefined);
  }
})();`;

export function dropOnExit(config: pg.ClientConfig, name: string): void {
  pending.set(name, config);
  if (hooked) return;
  hooked = true;
  process.once('exit', dropPendingNow);
}

/** Dropped by its own drop(): nothing left to do at exit. */
export function forget(name: string): void {
  pending.delete(name);
}

function dropPendingNow(): void {
  if (pending.size === 0) return;
  spawnSync(process.execPath, ['-e', DROP_SCRIPT], {
    env: { ...process.env, MIGRATION_LOCK_DROP: JSON.stringify([...pending]) },
    stdio: 'ignore',
    timeout: 10_000,
  });
}
