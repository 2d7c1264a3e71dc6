import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A tenant migration: unqualified, it lands in each tenant's schema. */
export class CreateNotes1700000000101 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE notes');
  }
}
