import type pg from 'pg';

export const CREATE_COUNTER_SQL = 'CREATE TABLE counter (id int PRIMARY KEY, value int NOT NULL)';

/** An EntityManager, a QueryRunner or a pg client. */
interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** Read, do some work on the same connection, write back: a lost update unless serialized. */
export async function incrementCounter(db: Queryable): Promise<void> {
  const [{ value }] = (await db.query('SELECT value FROM counter WHERE id = 1')) as [
    { value: number },
  ];
  await db.query('SELECT count(*) FROM generate_series(1, 20000)');
  await db.query('UPDATE counter SET value = $1 WHERE id = 1', [value + 1]);
}

/** Resets the counter, runs `rounds` steps on each of `workers` concurrently, returns the final value. */
export async function runCounterWorkload(
  observer: pg.Client,
  workers: number,
  rounds: number,
  step: (worker: number) => Promise<void>,
): Promise<number> {
  await observer.query(
    'INSERT INTO counter VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET value = 0',
  );
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let round = 0; round < rounds; round++) await step(worker);
    }),
  );
  const { rows } = await observer.query<{ value: number }>(
    'SELECT value FROM counter WHERE id = 1',
  );
  return rows[0].value;
}
