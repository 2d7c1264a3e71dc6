import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * Extra migrations for fault scenarios (the demo's --chaos and --mode each, and the process tests).
 * They come after the reference migrations.
 */

/** The one-int advisory lock a test or the demo holds to keep the Gate migration waiting. */
export const GATE_LOCK = 4242;

/** Leaves a mark, then waits until whoever holds GATE_LOCK lets go: a long migration on demand. */
export class Gate1732500000005 implements MigrationInterface {
  name = 'Gate1732500000005';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE gate_passed (at timestamptz NOT NULL DEFAULT now())');
    await queryRunner.query(`SELECT pg_advisory_xact_lock(${GATE_LOCK})`);
    await queryRunner.query('INSERT INTO gate_passed DEFAULT VALUES');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE gate_passed');
  }
}

/** Runs after the gate: shows whether a run stopped between migrations. */
export class AfterGate1732500000006 implements MigrationInterface {
  name = 'AfterGate1732500000006';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE after_gate (id int)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE after_gate');
  }
}

/** What hangs behind waiting replicas in other tools: needs transaction mode `each` or `none`. */
export class ConcurrentIndex1732500000007 implements MigrationInterface {
  name = 'ConcurrentIndex1732500000007';
  transaction = false as const;
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX CONCURRENTLY clusters_kind_idx ON clusters (kind)');
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX CONCURRENTLY clusters_kind_idx');
  }
}

/** Always fails, after leaving a mark that must be rolled back. */
export class Broken1732500000008 implements MigrationInterface {
  name = 'Broken1732500000008';
  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE TABLE broken_marker (id int)');
    await queryRunner.query('SELECT * FROM table_that_does_not_exist');
  }
  async down(): Promise<void> {}
}

export const SCENARIOS = {
  gate: [Gate1732500000005, AfterGate1732500000006],
  cic: [ConcurrentIndex1732500000007],
  fail: [Broken1732500000008],
} as const;

export type Scenario = keyof typeof SCENARIOS;
