import { runner } from 'node-pg-migrate';
import { fileURLToPath } from 'node:url';
import {
  epochNow,
  type ParentMessage,
  type ReplicaMessage,
} from '../../src/demo/replica-protocol.js';

/*
 * A peer replica for the benchmark: node-pg-migrate (with its default advisory lock) running the
 * reference migrations, speaking the same fork protocol as the reference-service replica.
 */
const MIGRATIONS_DIR = fileURLToPath(
  new URL('../../../bench/peers/node-pg-migrate', import.meta.url),
);
const send = (message: ReplicaMessage) => process.send?.(message);

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ParentMessage) => {
  if (message.type === 'go') void start();
  if (message.type === 'stop') process.exit(0);
});
send({ type: 'loaded' });

async function start(): Promise<void> {
  try {
    const applied = await runner({
      databaseUrl: process.env.DATABASE_URL!,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      log: () => undefined,
    });
    const names = applied.map((m) => m.name);
    send({
      type: 'ready',
      outcome: names.length ? 'applied' : 'followed',
      applied: names,
      waitedMs: 0,
      heldMs: 0,
      migratedAt: epochNow(),
      port: 0,
    });
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
  }
}
