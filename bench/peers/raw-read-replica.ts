import pg from 'pg';
import {
  epochNow,
  type ParentMessage,
  type ReplicaMessage,
} from '../../src/demo/replica-protocol.js';

/*
 * The floor for followers: a replica that only reads the migrations table with a raw `pg` client
 * (what any replica must do at least to see that nothing is pending), no Nest, no TypeORM, no lock.
 * Connected and warmed up before `loaded`, released by the same signal as the real replicas.
 */
const READ_SQL = 'SELECT name FROM migrations';
const send = (message: ReplicaMessage) => process.send?.(message);

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client.on('error', () => undefined);
await client.connect();
await client.query(READ_SQL);

process.on('disconnect', () => process.exit(0));
process.on('message', (message: ParentMessage) => {
  if (message.type === 'go') void start();
  if (message.type === 'stop') void client.end().finally(() => process.exit(0));
});
send({ type: 'loaded' });

async function start(): Promise<void> {
  try {
    await client.query(READ_SQL);
    const migratedAt = epochNow();
    send({
      type: 'ready',
      outcome: 'followed',
      applied: [],
      waitedMs: 0,
      heldMs: 0,
      migratedAt,
      port: 0,
    });
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
  }
}
