import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Cluster names are unique DNS labels. */
export class ConstrainClusterNames1732500000004 implements MigrationInterface {
  name = 'ConstrainClusterNames1732500000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE clusters ADD CONSTRAINT clusters_name_key UNIQUE (name)');
    await queryRunner.query(
      `ALTER TABLE clusters ADD CONSTRAINT clusters_name_dns_label
         CHECK (name ~ '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' AND length(name) <= 63)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE clusters DROP CONSTRAINT clusters_name_dns_label');
    await queryRunner.query('ALTER TABLE clusters DROP CONSTRAINT clusters_name_key');
  }
}
