import { startTestPostgres } from './postgres-server.mjs';

/** One PostgreSQL server per jest run; workers inherit its URL through the environment. */
export default async function globalSetup() {
  const server = await startTestPostgres();
  process.env.MIGRATION_LOCK_TEST_ADMIN_URL = server.url;
  globalThis.__testPostgres = server;
}
