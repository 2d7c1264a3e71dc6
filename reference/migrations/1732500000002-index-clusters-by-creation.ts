import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lists page through clusters newest first; this index serves that order. */
export class IndexClustersByCreation1732500000002 implements MigrationInterface {
  name = 'IndexClustersByCreation1732500000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX clusters_created_at_idx ON clusters (created_at DESC, id)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX clusters_created_at_idx');
  }
}
