import pg from 'pg';
import { servePeerReplica } from './peer-replica.js';

/** What every reader peer reads: the migrations table, as a follower does. */
export const READ_SQL = 'SELECT name FROM migrations';

/**
 * Serves a peer whose migration phase is only one raw `pg` read of the migrations table (what any
 * replica must do at least to see that nothing is pending), on a client connected and warmed up
 * before `loaded`. `stop` runs after the client has ended.
 */
export async function serveRawRead(stop: () => Promise<unknown> = async () => undefined) {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  client.on('error', () => undefined);
  await client.connect();
  await client.query(READ_SQL);
  servePeerReplica(
    async () => {
      await client.query(READ_SQL);
      return [];
    },
    async () => {
      await client.end();
      await stop();
    },
  );
}
