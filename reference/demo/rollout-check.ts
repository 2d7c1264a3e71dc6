import pg from 'pg';

/** What the database shows after a rollout: did every migration run exactly once? */
export interface RolloutCheck {
  /** Times each migration is recorded in the migrations table (an unlocked race records some twice). */
  readonly migrationRuns: Record<string, number>;
  /** The seed cluster's generation: 1 when the backfill ran once, more when it ran again. */
  readonly backfillRuns: number | undefined;
  readonly ok: boolean;
}

export async function checkRollout(
  databaseUrl: string,
  expectedMigrations: readonly string[],
): Promise<RolloutCheck> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'rollout-check',
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const runs = await client
      .query<{ name: string; n: number }>(
        'SELECT name, count(*)::int AS n FROM migrations GROUP BY name',
      )
      .then((r) => r.rows)
      .catch(() => []);
    const migrationRuns = Object.fromEntries(
      expectedMigrations.map((name) => [name, runs.find((r) => r.name === name)?.n ?? 0]),
    );
    const backfillRuns = await client
      .query<{ generation: number }>(`SELECT generation FROM clusters WHERE name = 'default'`)
      .then((r) => r.rows[0]?.generation)
      .catch(() => undefined);
    const ok = Object.values(migrationRuns).every((n) => n === 1) && backfillRuns === 1;
    return { migrationRuns, backfillRuns, ok };
  } finally {
    await client.end();
  }
}
