import pg from 'pg';
import { servePeerReplica } from './peer-replica.js';

/*
 * The floor for followers: a replica that only reads the migrations table with a raw `pg` client
 * (what any replica must do at least to see that nothing is pending), no Nest, no TypeORM, no lock.
 * Connected and warmed up before `loaded`, released by the same signal as the real replicas.
 */
const READ_SQL = 'SELECT name FROM migrations';
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client.on('error', () => undefined);
await client.connect();
await client.query(READ_SQL);

servePeerReplica(
  async () => {
    await client.query(READ_SQL);
    return [];
  },
  () => client.end(),
);
