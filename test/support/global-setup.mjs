import pg from 'pg';
import { startTestPostgres } from './postgres-server.mjs';

/**
 * One PostgreSQL server per jest run; workers inherit its URL, and its version (for tests of
 * settings only some majors have), through the environment.
 */
export default async function globalSetup() {
  const server = await startTestPostgres();
  process.env.MIGRATION_LOCK_TEST_ADMIN_URL = server.url;
  process.env.MIGRATION_LOCK_TEST_SERVER_VERSION_NUM = await serverVersionNum(server.url);
  globalThis.__testPostgres = server;
}

async function serverVersionNum(url) {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query('SHOW server_version_num')).rows[0].server_version_num;
  } finally {
    await client.end();
  }
}
