import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCounters1700000000001 implements MigrationInterface {
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE counters (id int PRIMARY KEY, value int NOT NULL)');
    await queryRunner.query('INSERT INTO counters VALUES (1, 0)');
    await queryRunner.query('CREATE TABLE side_effects (id serial PRIMARY KEY)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE side_effects');
    await queryRunner.query('DROP TABLE counters');
  }
}
