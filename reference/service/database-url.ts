import { resolve } from 'node:path';
import { redactConnectionUrl } from '../runtime/connection-url.js';
import { startEmbeddedPostgres } from '../runtime/embedded-postgres.js';

/**
 * DATABASE_URL when set; otherwise an embedded PostgreSQL whose data stays in `.data/postgres`,
 * so `npm start` works on a machine with no database server. Never prints credentials.
 */
export async function resolveDatabaseUrl(log: (line: string) => void): Promise<string> {
  if (process.env.DATABASE_URL) {
    log(`Using DATABASE_URL (${redactConnectionUrl(process.env.DATABASE_URL)})`);
    return process.env.DATABASE_URL;
  }
  const dataDir = resolve('.data/postgres');
  const server = await startEmbeddedPostgres({ dataDir });
  log(
    `DATABASE_URL is not set: started embedded PostgreSQL (${redactConnectionUrl(server.url)}, data in ${dataDir})`,
  );
  return server.url;
}
