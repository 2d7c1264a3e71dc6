// Plain ESM: jest loads globalSetup outside its transform pipeline. It uses the built runtime
// helper (npm test builds first), the same one the demo and `npm start` use.
import { startEmbeddedPostgres } from '../../build/reference/runtime/embedded-postgres.js';

/**
 * The server a test run uses:
 * - DATABASE_URL set: that server (each test file still gets its own database on it);
 * - TEST_POSTGRES=container: a testcontainers PostgreSQL (needs a Docker engine);
 * - otherwise: embedded PostgreSQL binaries in a temp dir, so a fresh machine needs nothing else.
 */
export async function startTestPostgres() {
  if (process.env.DATABASE_URL)
    return { url: process.env.DATABASE_URL, stop: async () => undefined };
  if (process.env.TEST_POSTGRES === 'container') return startContainer();
  return startEmbeddedPostgres({ fast: true });
}

async function startContainer() {
  const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
  try {
    const container = await new PostgreSqlContainer('postgres:17-alpine').start();
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  } catch (error) {
    throw new Error(
      `TEST_POSTGRES=container needs a Docker engine, and none answered (${error.message}). ` +
        'Unset TEST_POSTGRES to use embedded PostgreSQL, or set DATABASE_URL to a server of yours.',
      { cause: error },
    );
  }
}
