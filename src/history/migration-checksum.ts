import { hash } from 'node:crypto';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';

/*
 * A migration's checksum is taken from what its up() sends, not from its source: the same
 * statements give the same checksum whatever compiled the migration (another TypeScript target,
 * a minifier, a formatter, CommonJS or ESM), and any change to a statement changes it. The
 * statements are captured by a QueryRunner that executes nothing and answers every query with no
 * rows, the same way when a migration is applied and when it is validated. A migration that
 * cannot run on such answers (it reads data and needs rows) cannot be captured: unverifiable.
 */

/** A statement as up() sent it: what a dry run prints. */
export interface SentStatement {
  readonly sql: string;
  readonly parameters?: readonly unknown[];
}

/** What a capture of a migration's up() found. */
export type MigrationCapture =
  | {
      readonly verifiable: true;
      /** Normalized (normalizeStatement): what the checksum is taken over. */
      readonly statements: readonly string[];
      readonly sent: readonly SentStatement[];
      readonly checksum: string;
    }
  | {
      readonly verifiable: false;
      readonly reason: string;
      /** What up() sent before it failed on an empty answer. */
      readonly sent: readonly SentStatement[];
    };

/**
 * One statement as the checksum sees it: whitespace runs made one space (a formatter's change is
 * none), its parameters after it.
 */
export function normalizeStatement(sql: string, parameters?: unknown): string {
  const text = sql.replace(/\s+/g, ' ').trim().replace(/;+$/, '').trimEnd();
  const values = parameterList(parameters);
  return values.length === 0 ? text : `${text} -- ${JSON.stringify(values)}`;
}

/** sha256 of the statements, one per line, in hex. */
export function checksumOf(statements: readonly string[]): string {
  // crypto.hash (Node 20.12+): one call, no Hash object per migration.
  return hash('sha256', statements.join('\n'), 'hex');
}

/** Marks the QueryRunner a capture gives up(): see isRecordingQueryRunner. */
const RECORDING = Symbol.for('nestjs-migration-lock.recordingQueryRunner');

/**
 * Whether `queryRunner` is the one a checksum capture or a dry run gives a migration's up(): it
 * records statements and sends nothing. A migration with effects outside the database (a file, a
 * message, a call to another service) skips them when this is true; they would otherwise happen
 * each time the migration is captured (when it is applied, and when the history is validated).
 */
export function isRecordingQueryRunner(queryRunner: QueryRunner): boolean {
  return (queryRunner as unknown as Record<symbol, unknown>)[RECORDING] === true;
}

/** Captures are made once per migration object: up() is the same code for the process's life. */
const captured = new WeakMap<MigrationInterface, MigrationCapture>();

/**
 * Runs `migration.up()` against a QueryRunner of `dataSource` that sends nothing: every query is
 * recorded and answered with no rows, and the runner never takes a connection. TypeORM's schema
 * builder (createTable, addColumn …) goes through query() too, so its statements are recorded in
 * the order the migration makes them.
 */
export async function captureUp(
  dataSource: DataSource,
  migration: MigrationInterface,
): Promise<MigrationCapture> {
  const [capture] = await captureAll(dataSource, [migration]);
  return capture;
}

/**
 * captureUp for many migrations, one after the other on one recording runner: a validation at
 * start-up captures every applied migration, and a QueryRunner made per migration (with its
 * EntityManager) cost more than the captures themselves.
 */
export async function captureAll(
  dataSource: DataSource,
  migrations: readonly MigrationInterface[],
): Promise<MigrationCapture[]> {
  const captures: MigrationCapture[] = [];
  let recorder: Recorder | undefined;
  try {
    for (const migration of migrations) {
      let capture = captured.get(migration);
      if (!capture) {
        recorder ??= new Recorder(dataSource);
        capture = await recorder.capture(migration);
        captured.set(migration, capture);
      }
      captures.push(capture);
    }
  } finally {
    await recorder?.release();
  }
  return captures;
}

/** One recording QueryRunner, its sink emptied before each migration. */
class Recorder {
  private sent: SentStatement[] = [];
  private readonly runner: QueryRunner;

  constructor(dataSource: DataSource) {
    this.runner = recordingQueryRunner(dataSource, (statement) => this.sent.push(statement));
  }

  async capture(migration: MigrationInterface): Promise<MigrationCapture> {
    const sent: SentStatement[] = [];
    this.sent = sent;
    try {
      await migration.up(this.runner);
    } catch (error) {
      return { verifiable: false, reason: (error as Error)?.message ?? String(error), sent };
    } finally {
      // A statement sent after up() settled (an un-awaited query) goes nowhere.
      this.sent = [];
    }
    const statements = sent.map(({ sql, parameters }) => normalizeStatement(sql, parameters));
    return { verifiable: true, statements, sent, checksum: checksumOf(statements) };
  }

  release(): Promise<void> {
    return this.runner.release();
  }
}

function parameterList(parameters: unknown): readonly unknown[] {
  return Array.isArray(parameters) ? parameters : parameters ? [parameters] : [];
}

function recordingQueryRunner(
  dataSource: DataSource,
  record: (statement: SentStatement) => void,
): QueryRunner {
  const runner = dataSource.createQueryRunner('master');
  const noRows = async (sql: string, parameters?: unknown, structured?: boolean) => {
    const values = parameterList(parameters);
    record(values.length === 0 ? { sql } : { sql, parameters: values });
    return structured ? { records: [], raw: [], affected: 0 } : [];
  };
  // Own properties shadow the driver's methods on this instance only.
  Object.assign(runner, {
    query: noRows,
    connect: async () => undefined,
    startTransaction: async () => undefined,
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
    [RECORDING]: true,
  });
  // TypeORM 1.x names it `dataSource` and keeps `connection` as a getter; 0.3 has the field only.
  const recording = recordingDataSource(dataSource, runner);
  for (const name of ['connection', 'dataSource'])
    Object.defineProperty(runner, name, { value: recording, configurable: true });
  return runner;
}

/**
 * `queryRunner.connection` as a migration sees it during a capture: the DataSource, except that
 * whatever would take a connection of its own (query, createQueryRunner, manager, transaction,
 * and getRepository / createQueryBuilder through them) gets the recording runner. A migration
 * that goes through the runner's DataSource (`queryRunner.connection.getRepository(…)`) is then
 * recorded instead of run; one that imports a DataSource of its own is beyond reach (docs/history.md).
 */
function recordingDataSource(dataSource: DataSource, runner: QueryRunner): DataSource {
  const redirected: Record<PropertyKey, unknown> = {
    query: (sql: string, parameters?: unknown[]) => runner.query(sql, parameters),
    createQueryRunner: () => runner,
    transaction: (...args: unknown[]) =>
      (runner.manager.transaction as (...a: unknown[]) => unknown)(...args),
  };
  return new Proxy(dataSource, {
    get(target, property, receiver) {
      if (property === 'manager') return runner.manager;
      if (Object.hasOwn(redirected, property)) return redirected[property];
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}
