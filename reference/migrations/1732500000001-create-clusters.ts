import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The clusters resource of the reference service, with one seed row the backfill later counts on. */
export class CreateClusters1732500000001 implements MigrationInterface {
  name = 'CreateClusters1732500000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE clusters (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        kind text NOT NULL DEFAULT 'Cluster',
        spec jsonb NOT NULL DEFAULT '{}'::jsonb,
        generation integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `INSERT INTO clusters (name, spec) VALUES ('default', '{"provider": "local"}')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE clusters');
  }
}
