import pg from 'pg';
import type { QueryRunner } from 'typeorm';
import { referenceMigrations } from '../../reference/migrations/index.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { servePeerReplica } from './peer-replica.js';

/*
 * The floor for a rollout: the module's algorithm written with one raw `pg` client and nothing else
 * (no Nest, no TypeORM, no lock library): read the migrations table; if something is pending, try
 * the lock; the one that gets it applies the reference migrations and records them in the same
 * transaction; the others wait for it in the shared form and read again. Same barrier and release
 * as the real replicas: what it costs on this machine is what any correct rollout costs here.
 */
const [K1, K2] = advisoryLockKey('migrations', 'Migrations');
const UNDEFINED_TABLE = '42P01';
const migrations = referenceMigrations.map((Migration) => new Migration());

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client.on('error', () => undefined);

/**
 * Serves the raw rollout on a client connected (and its read warmed up) before `loaded`. `stop`
 * runs after the client has ended.
 */
export async function serveRawRollout(stop: () => Promise<unknown> = async () => undefined) {
  await client.connect();
  await applied();
  servePeerReplica(migrate, async () => {
    await client.end();
    await stop();
  });
}

async function applied(): Promise<Set<string>> {
  try {
    const { rows } = await client.query<{ name: string }>('SELECT name FROM migrations');
    return new Set(rows.map((row) => row.name));
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_TABLE) return new Set();
    throw error;
  }
}

async function pending() {
  const done = await applied();
  return migrations.filter((migration) => !done.has(migration.name));
}

/** Resolves with the names it applied: none when another replica did. */
async function migrate(): Promise<string[]> {
  for (;;) {
    if ((await pending()).length === 0) return [];
    const [, tried] = (await client.query(
      `BEGIN; SELECT pg_try_advisory_xact_lock(${K1}, ${K2}) AS acquired`,
    )) as unknown as [unknown, pg.QueryResult<{ acquired: boolean }>];
    if (!tried.rows[0].acquired) {
      await client.query(`SELECT pg_advisory_xact_lock_shared(${K1}, ${K2}); COMMIT`);
      continue;
    }
    try {
      // Created first: a failed read would abort the transaction.
      await client.query(
        'CREATE TABLE IF NOT EXISTS migrations (id serial PRIMARY KEY, timestamp bigint NOT NULL, name varchar NOT NULL)',
      );
      const todo = await pending();
      const queryRunner = { query: (sql: string) => client.query(sql) } as unknown as QueryRunner;
      for (const migration of todo) {
        await migration.up(queryRunner);
        await client.query('INSERT INTO migrations (timestamp, name) VALUES ($1, $2)', [
          Number(migration.name.slice(-13)),
          migration.name,
        ]);
      }
      await client.query('COMMIT');
      return todo.map((migration) => migration.name);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}
