import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { replicaContext } from './replica-context.js';
import { servePeerReplica } from './peer-replica.js';
import { READ_SQL } from './raw-read.js';

/*
 * The floor for a follower that reads through the application's own DataSource: the reference
 * service's application context, built as a follower builds it, whose phase is the raw reader's
 * read on a client checked out of TypeORM's primary pool and given back (the driver's
 * obtainMasterConnection, no QueryRunner): the least any library on the app's DataSource does to
 * read. Followers ÷ this is what the follower path costs over that read; this ÷ nest-raw-read is
 * what the pool's checkout and give-back cost over a client of its own.
 */
type PrimaryPool = { obtainMasterConnection(): Promise<[PoolClient, () => void]> };

const app = await replicaContext();
const pool = app.get(DataSource).driver as unknown as PrimaryPool;

async function readOnPool(): Promise<string[]> {
  const [client, release] = await pool.obtainMasterConnection();
  try {
    await client.query(READ_SQL);
  } finally {
    release();
  }
  return [];
}

// Warmed up before `loaded`, as the follower's own read is.
await readOnPool();
servePeerReplica(readOnPool, () => app.close());
