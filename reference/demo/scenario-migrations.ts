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

/** The one-int advisory lock that keeps the IdleGate migration waiting. */
export const IDLE_GATE_LOCK = 4243;
const IDLE_GATE_RETRY_MS = 700;

/**
 * Like Gate, but waits by trying the gate every 700 ms and staying idle in its transaction in
 * between: a holder that a low idle_in_transaction_session_timeout would kill without protection.
 */
export class IdleGate1732500000009 implements MigrationInterface {
  name = 'IdleGate1732500000009';
  async up(queryRunner: QueryRunner): Promise<void> {
    for (;;) {
      const [{ open }] = (await queryRunner.query(
        `SELECT pg_try_advisory_xact_lock(${IDLE_GATE_LOCK}) AS open`,
      )) as [{ open: boolean }];
      if (open) return;
      await new Promise((resolve) => setTimeout(resolve, IDLE_GATE_RETRY_MS));
    }
  }
  async down(): Promise<void> {}
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
  'idle-gate': [IdleGate1732500000009],
} as const;

export type Scenario = keyof typeof SCENARIOS;
