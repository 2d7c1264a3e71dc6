import type pg from 'pg';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * The floor of a many-migrations run: what the server has to do whatever the tool, sent on one raw
 * `pg` client with nothing around it. The same migration classes run their up() against a client
 * that only forwards query(); the migrations table is made and filled the way the module's runner
 * does it (one INSERT for an `all` run; per migration, its row and the COMMIT in one round trip).
 */

const MIGRATIONS_TABLE_SQL = `CREATE TABLE "migrations" ("id" SERIAL NOT NULL, "timestamp" bigint NOT NULL,
  "name" character varying NOT NULL, CONSTRAINT "PK_migrations" PRIMARY KEY ("id"))`;

const recordSql = (names: readonly string[]) =>
  `INSERT INTO "migrations" ("timestamp", "name") VALUES ${names
    .map((name) => `(${name.slice(-13)}, '${name}')`)
    .join(', ')}`;

/** Applies every migration on `client` (a fresh database), in one transaction or one per migration. */
export async function rawManyMigrations(
  client: pg.Client,
  migrations: ReadonlyArray<new () => MigrationInterface>,
  mode: 'all' | 'each',
): Promise<void> {
  const runner = { query: (sql: string) => client.query(sql) } as unknown as QueryRunner;
  const instances = migrations.map((Migration) => new Migration());
  const names = instances.map((migration) => migration.name!);
  if (mode === 'all') {
    await client.query('BEGIN');
    await client.query(MIGRATIONS_TABLE_SQL);
    for (const migration of instances) await migration.up(runner);
    await client.query(`${recordSql(names)}; COMMIT`);
    return;
  }
  await client.query(MIGRATIONS_TABLE_SQL);
  for (const [i, migration] of instances.entries()) {
    await client.query('BEGIN');
    await migration.up(runner);
    await client.query(`${recordSql([names[i]])}; COMMIT`);
  }
}
