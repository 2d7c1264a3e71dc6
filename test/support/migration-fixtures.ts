import type { MigrationInterface, QueryRunner } from 'typeorm';
import { referenceMigrations } from '../../reference/migrations/index.js';

export { referenceMigrations };

/** One row per application of a migration: counts double applications directly. */
export async function migrationCounts(
  query: (sql: string) => Promise<{ rows: unknown[] }>,
): Promise<Record<string, number>> {
  const { rows } = await query(
    'SELECT name, count(*)::int AS n FROM migrations GROUP BY name ORDER BY name',
  );
  return Object.fromEntries(
    (rows as Array<{ name: string; n: number }>).map((row) => [row.name, row.n]),
  );
}

/** The visible effect of the reference backfill: 1 when it ran once, 2 when twice. */
export async function seedGeneration(
  query: (sql: string) => Promise<{ rows: unknown[] }>,
): Promise<number> {
  const { rows } = await query(`SELECT generation FROM clusters WHERE name = 'default'`);
  return (rows[0] as { generation: number }).generation;
}

export const appliedOnce = Object.fromEntries(referenceMigrations.map((m) => [new m().name, 1]));

/** A migration that fails, to prove the error names it and nothing is left applied. */
export class FailingMigration1732500000099 implements MigrationInterface {
  name = 'FailingMigration1732500000099';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE never_kept (id int)');
    await queryRunner.query('SELECT * FROM table_that_does_not_exist');
  }
  async down(): Promise<void> {}
}

/** A migration that opts out of transactions (what CREATE INDEX CONCURRENTLY needs). */
export class NonTransactionalMigration1732500000098 implements MigrationInterface {
  name = 'NonTransactionalMigration1732500000098';
  transaction = false as const;
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX CONCURRENTLY clusters_kind_idx ON clusters (kind)');
  }
  async down(): Promise<void> {}
}
