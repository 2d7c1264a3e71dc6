import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { MigrationDriftError, MigrationFailedError } from '../../src/errors/migration.errors.js';
import type { DriftFinding } from '../../src/history/drift.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import type { MigrationRunnerOptions } from '../../src/migration-runner/migration-runner.options.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { PACKAGE_VERSION } from '../../src/telemetry/package-version.js';
import { BUILDS, compiledMigration, compiledMigrationsDir } from '../support/compiled-migration.js';
import {
  connectClient,
  createTestDatabase,
  openDataSource,
  type TestDatabase,
} from '../support/test-database.js';

/*
 * The migration history on a real PostgreSQL: rows written with the migrations table's, drift
 * found before a run (changed, missing, out of order), baselines of a database TypeORM migrated
 * alone, failed attempts, reverts, and a dry run that changes nothing.
 */

type MigrationClass = new () => MigrationInterface;

/** A migration named `name` (its timestamp at the end) whose up() sends `statements`. */
function migration(name: string, statements: string[], extra: { transaction?: false } = {}) {
  return class implements MigrationInterface {
    name = name;
    transaction = extra.transaction;
    async up(queryRunner: QueryRunner): Promise<void> {
      for (const sql of statements) await queryRunner.query(sql);
    }
    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP TABLE IF EXISTS t_${name.toLowerCase()}`);
    }
  } as MigrationClass;
}

const table = (name: string) =>
  `CREATE TABLE t_${name.toLowerCase()} (id int, note text DEFAULT 'a')`;
const First = migration('First1700000000001', [table('First1700000000001')]);
const Second = migration('Second1700000000002', [table('Second1700000000002')]);
const Third = migration('Third1700000000003', [table('Third1700000000003')]);
/** Second, with one string of its SQL edited after it ran. */
const SecondEdited = migration('Second1700000000002', [
  table('Second1700000000002').replace("'a'", "'b'"),
]);
/** Second, written differently: the same statement built another way, with other whitespace. */
const SecondRewritten = migration('Second1700000000002', [
  ['CREATE TABLE', 't_second1700000000002', "(id int,\n   note text DEFAULT 'a')"].join('   '),
]);
/** A pending migration older than Third. */
const Late = migration('Late1700000000002', [table('Late1700000000002')]);
const Failing = migration('Failing1700000000004', [
  'CREATE TABLE never_kept (id int)',
  'SELECT * FROM no_such_table',
]);
/** Reads rows and needs one to go on: its statements depend on data. */
class Reads1700000000005 implements MigrationInterface {
  name = 'Reads1700000000005';
  async up(queryRunner: QueryRunner): Promise<void> {
    const [{ n }] = (await queryRunner.query(
      'SELECT count(*)::int AS n FROM t_first1700000000001',
    )) as [{ n: number }];
    await queryRunner.query(`CREATE TABLE t_reads_${n} (id int)`);
  }
  async down(): Promise<void> {}
}

/** Checks that only warn run after run() resolves: these tests look at what they did. */
class SettledRunner extends MigrationRunnerService {
  override async run(options?: { signal?: AbortSignal }) {
    const result = await super.run(options);
    await this.validationDone;
    return result;
  }
}

describe('the migration history', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  const dataSources: DataSource[] = [];
  const rows = async (sql: string) => (await observer.query(sql)).rows;

  async function runner(
    migrations: Function[],
    options: Partial<MigrationRunnerOptions> = {},
  ): Promise<MigrationRunnerService> {
    const dataSource = await openDataSource(db.url, { migrations, applicationName: 'history-app' });
    dataSources.push(dataSource);
    return new SettledRunner(dataSource, new AdvisoryLockService(dataSource), {
      ...DEFAULT_OPTIONS,
      ...options,
    });
  }

  /** The warnings the runner logs while `fn` runs. */
  async function warnings<T>(fn: () => Promise<T>): Promise<{ value: T; warned: string[] }> {
    const spy = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const value = await fn();
      return { value, warned: spy.mock.calls.map((call) => String(call[0])) };
    } finally {
      spy.mockRestore();
    }
  }

  beforeEach(async () => {
    db = await createTestDatabase('history');
    observer = await connectClient(db.url, 'observer');
  });

  afterEach(async () => {
    await Promise.all(dataSources.splice(0).map((ds) => ds.destroy()));
    await observer.end();
    await db.drop();
  });

  it.each(['all', 'each', 'none'] as const)(
    'mode %s: one row per migration, in the same transaction as its migrations row, saying who applied it',
    async (transaction) => {
      await (await runner([First, Second], { transaction })).run();
      const history = await rows(
        `SELECT h.name, h.status, length(h.checksum) AS checksum_length, h.duration_ms >= 0 AS timed,
                h.applied_at <= now() AS stamped, h.application_name, h.host, h.pid, h.module_version,
                h.mode, h.xmin::text = m.xmin::text AS same_transaction, h.xmin::text AS tx
           FROM migration_lock_history h JOIN migrations m USING (name) ORDER BY h.id`,
      );
      const by = {
        status: 'applied',
        checksum_length: 64,
        timed: true,
        stamped: true,
        application_name: expect.stringMatching(/^history-app/),
        host: hostname(),
        pid: process.pid,
        module_version: PACKAGE_VERSION,
        mode: transaction,
        same_transaction: true,
        tx: expect.any(String),
      };
      expect(history).toEqual([
        { ...by, name: 'First1700000000001' },
        { ...by, name: 'Second1700000000002' },
      ]);
      // One transaction for the whole run in mode all, one per migration otherwise.
      const transactions = new Set(history.map((row) => row.tx)).size;
      expect(transactions).toBe(transaction === 'all' ? 1 : 2);
    },
  );

  it('finds nothing when the code is the same statements, however written', async () => {
    await (await runner([First, Second])).run();
    const { findings, clean } = await (await runner([First, SecondRewritten])).validate();
    expect({ findings, clean }).toEqual({ findings: [], clean: true });
  });

  it('finds nothing when the applied migrations are recompiled (ES2015 CommonJS applied; ES2022 ESM, minified, validated)', async () => {
    const source = `
      import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
      export class Recompiled1700000000009 implements MigrationInterface {
        name = 'Recompiled1700000000009';
        private readonly columns = ['id', 'body'];
        async up(queryRunner: QueryRunner): Promise<void> {
          await queryRunner.query(\`CREATE TABLE recompiled (\${this.columns.map((c) => c + ' text').join(', ')})\`);
          await queryRunner.query('INSERT INTO recompiled VALUES ($1, $2)', ['1', 'seed']);
          await queryRunner.createTable(new Table({ name: 'recompiled_notes', columns: [{ name: 'id', type: 'int' }] }));
        }
        async down(): Promise<void> {}
      }`;
    const { dir, remove } = compiledMigrationsDir();
    try {
      const builds = await Promise.all(
        BUILDS.map((build) =>
          compiledMigration(dir, source, build, 'recompiled', 'Recompiled1700000000009'),
        ),
      );
      await (await runner([builds[0]])).run();
      for (const build of builds.slice(1))
        expect(await (await runner([build])).validate()).toEqual({ findings: [], clean: true });
      // The check can fail: an edited statement in the same build is found.
      const edited = await compiledMigration(
        dir,
        source.replace("'seed'", "'other'"),
        BUILDS[2],
        'edited',
        'Recompiled1700000000009',
      );
      expect((await (await runner([edited])).validate()).findings.map((f) => f.kind)).toEqual([
        'changed',
      ]);
    } finally {
      remove();
    }
  });

  it("runs no migration's up() at start with validate: { changed: 'off' } (and once with the default)", async () => {
    let calls = 0;
    class Counted1700000000007 implements MigrationInterface {
      name = 'Counted1700000000007';
      async up(queryRunner: QueryRunner): Promise<void> {
        calls++;
        await queryRunner.query('CREATE TABLE counted (id int)');
      }
      async down(): Promise<void> {}
    }
    await (await runner([Counted1700000000007])).run();
    const afterApply = calls;
    await (await runner([Counted1700000000007], { validate: { changed: 'off' } })).run();
    expect(calls).toBe(afterApply);
    // A new class object: its capture is not cached from the run above.
    const Again = class extends Counted1700000000007 {};
    await (await runner([Again])).run();
    expect(calls).toBe(afterApply + 1);
  });

  it('finds a changed migration: warns at start-up naming it, and still runs (validate: warn)', async () => {
    await (await runner([First, Second])).run();
    const drift: DriftFinding[][] = [];
    const edited = await runner([First, SecondEdited, Third], {
      events: { driftFound: ({ findings }) => void drift.push([...findings]) },
    });
    const { value, warned } = await warnings(() => edited.run());
    expect(value.applied).toEqual(['Third1700000000003']);
    const changed = {
      kind: 'changed',
      name: 'Second1700000000002',
      recorded: expect.any(String),
      current: expect.any(String),
    };
    expect(drift).toEqual([[changed]]);
    expect(warned.filter((line) => line.includes('does not match'))).toEqual([
      expect.stringContaining('changed since applied: Second1700000000002'),
    ]);
    expect((await edited.validate()).clean).toBe(false);
  });

  it("refuses to run on drift with validate: 'fail', before the lock: nothing is applied", async () => {
    await (await runner([First, Second])).run();
    const edited = await runner([First, SecondEdited, Third], { validate: 'fail' });
    const error = (await edited.run().catch((e: unknown) => e)) as MigrationDriftError;
    expect(error).toBeInstanceOf(MigrationDriftError);
    expect(error.code).toBe('MIGRATION_DRIFT');
    expect(error.message).toContain('Second1700000000002');
    expect(await rows('SELECT name FROM migrations ORDER BY id')).toEqual([
      { name: 'First1700000000001' },
      { name: 'Second1700000000002' },
    ]);
    // Per finding: changed off, the rest fail; the run goes on.
    const lenient = await runner([First, SecondEdited, Third], {
      validate: { changed: 'off', missing: 'fail', outOfOrder: 'fail' },
    });
    expect((await lenient.run()).applied).toEqual(['Third1700000000003']);
  });

  it('names a migration the run applied out of order, though validation ran after the run (validate: warn)', async () => {
    await (await runner([First, Third])).run();
    const drift: DriftFinding[] = [];
    const late = await runner([First, Late, Third], {
      events: { driftFound: ({ findings }) => void drift.push(...findings) },
    });
    expect((await late.run()).applied).toEqual(['Late1700000000002']);
    expect(drift).toEqual([
      { kind: 'outOfOrder', name: 'Late1700000000002', newestApplied: 'Third1700000000003' },
    ]);
  });

  it('finds a missing migration and an out-of-order one', async () => {
    await (await runner([First, Second, Third])).run();
    const { findings, clean } = await (await runner([First, Late, Third])).validate();
    expect(clean).toBe(false);
    expect(findings).toEqual([
      { kind: 'missing', name: 'Second1700000000002' },
      { kind: 'outOfOrder', name: 'Late1700000000002', newestApplied: 'Third1700000000003' },
    ]);
  });

  it('baselines a database TypeORM migrated alone, then finds it clean', async () => {
    const plain = await openDataSource(db.url, { migrations: [First, Second] });
    await plain.runMigrations();
    await plain.destroy();
    const adopting = await runner([First, Second, Third]);
    expect((await adopting.validate()).findings.map((f) => f.kind)).toEqual([
      'unrecorded',
      'unrecorded',
    ]);
    await adopting.run();
    expect(
      await rows(
        'SELECT name, status, length(checksum) AS l FROM migration_lock_history ORDER BY name',
      ),
    ).toEqual([
      { name: 'First1700000000001', status: 'baseline', l: 64 },
      { name: 'Second1700000000002', status: 'baseline', l: 64 },
      { name: 'Third1700000000003', status: 'applied', l: 64 },
    ]);
    expect(await adopting.validate()).toEqual({ findings: [], clean: true });
    // A second replica's start baselines nothing again.
    await (await runner([First, Second, Third])).run();
    expect(
      await rows("SELECT count(*)::int AS n FROM migration_lock_history WHERE status = 'baseline'"),
    ).toEqual([{ n: 2 }]);
  });

  it('records a failed attempt after its rollback; in mode each, rows exactly for what committed', async () => {
    const failing = await runner([First, Second, Failing], { transaction: 'each' });
    const error = await failing.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationFailedError);
    expect(
      await rows(
        'SELECT name, status, error_code, error_message FROM migration_lock_history ORDER BY id',
      ),
    ).toEqual([
      { name: 'First1700000000001', status: 'applied', error_code: null, error_message: null },
      { name: 'Second1700000000002', status: 'applied', error_code: null, error_message: null },
      {
        name: 'Failing1700000000004',
        status: 'failed',
        error_code: '42P01',
        error_message: 'relation "no_such_table" does not exist',
      },
    ]);
    const { applied, failed } = await failing.history();
    expect(applied.map((entry) => [entry.name, entry.status, entry.checksumStatus])).toEqual([
      ['Second1700000000002', 'applied', 'ok'],
      ['First1700000000001', 'applied', 'ok'],
    ]);
    expect(failed).toEqual([
      expect.objectContaining({
        name: 'Failing1700000000004',
        errorCode: '42P01',
        pid: process.pid,
      }),
    ]);
  });

  it('records a revert, so that the migration applied again is checked against its new row', async () => {
    const first = await runner([First, Second]);
    await first.run();
    expect(await first.revert()).toBe('Second1700000000002');
    const again = await runner([First, SecondEdited]);
    await again.run();
    expect(await rows('SELECT name, status FROM migration_lock_history ORDER BY id')).toEqual([
      { name: 'First1700000000001', status: 'applied' },
      { name: 'Second1700000000002', status: 'applied' },
      { name: 'Second1700000000002', status: 'reverted' },
      { name: 'Second1700000000002', status: 'applied' },
    ]);
    expect(await again.validate()).toEqual({ findings: [], clean: true });
  });

  it('calls a migration whose statements depend on data unverifiable, and does not fail on it', async () => {
    await observer.query('CREATE TABLE t_first1700000000001 (id int)');
    const reading = await runner([Reads1700000000005]);
    await reading.run();
    expect(await rows('SELECT name, checksum FROM migration_lock_history')).toEqual([
      { name: 'Reads1700000000005', checksum: null },
    ]);
    expect(await reading.validate()).toEqual({
      findings: [{ kind: 'unverifiable', name: 'Reads1700000000005', reason: expect.any(String) }],
      clean: true,
    });
  });

  it('keeps no history with historyTable: false, and still finds missing migrations', async () => {
    await (await runner([First, Second], { historyTable: false })).run();
    expect(await rows("SELECT to_regclass('migration_lock_history') IS NULL AS absent")).toEqual([
      { absent: true },
    ]);
    const { findings } = await (await runner([First], { historyTable: false })).validate();
    expect(findings).toEqual([{ kind: 'missing', name: 'Second1700000000002' }]);
  });

  it('keeps the history in a schema-qualified table', async () => {
    await observer.query('CREATE SCHEMA ops');
    await (await runner([First], { historyTable: 'ops.migration_history' })).run();
    expect(await rows('SELECT name FROM ops.migration_history')).toEqual([
      { name: 'First1700000000001' },
    ]);
  });
});
