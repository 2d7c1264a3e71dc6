import pg from 'pg';

/** Runs `work` on a short-lived raw pg client (with the 'error' handler every raw client needs). */
export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
  applicationName = 'bench-admin',
): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
