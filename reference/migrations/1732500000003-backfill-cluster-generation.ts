import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A data backfill that is not idempotent on purpose: every existing cluster moves to generation 1.
 * Run twice, the seed cluster shows generation 2 — the visible proof the rollout demo checks.
 */
export class BackfillClusterGeneration1732500000003 implements MigrationInterface {
  name = 'BackfillClusterGeneration1732500000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('UPDATE clusters SET generation = generation + 1');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('UPDATE clusters SET generation = generation - 1');
  }
}
