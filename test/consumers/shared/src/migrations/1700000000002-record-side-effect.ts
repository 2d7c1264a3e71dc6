import { appendFileSync } from 'node:fs';
import { isRecordingQueryRunner } from 'nestjs-migration-lock';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Not idempotent, in the database and outside it: run twice, both counts show 2. The history's
 * checksum runs up() on a runner that sends nothing; the effect outside is for the real run only.
 */
export class RecordSideEffect1700000000002 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('INSERT INTO side_effects DEFAULT VALUES');
    if (isRecordingQueryRunner(queryRunner)) return;
    if (process.env.SIDE_EFFECT_FILE) appendFileSync(process.env.SIDE_EFFECT_FILE, 'applied\n');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DELETE FROM side_effects');
  }
}
