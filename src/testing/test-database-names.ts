import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { messages } from '../errors/migration-lock.messages.js';

type PostgresOptions = Extract<DataSourceOptions, { type: 'postgres' }>;

/*
 * How the testing entry names its databases: `mlt_<namespace>_t_<migration set>` for a template,
 * `mlt_<namespace>_d_<host>_<pid>_<random>` for a test database, and
 * `mlt_<namespace>_s_<migration set>_<host>_<pid>_<random>` for a spare (a clone made ahead for
 * the next call). The namespace is the database the options point at, so other apps on the server
 * are never touched; the pid says whether the creator of a test database or spare still runs.
 */

export interface Naming {
  /** Per database the options point at: templates of other apps on the server are never touched. */
  readonly namespace: string;
  /** Per migration set. */
  readonly template: string;
  newDatabase(): string;
  /** A name for a spare of this template, made by this process. */
  newSpare(): string;
  /** Whether a database is a spare of this template; `ours`: one this process made. */
  isSpare(name: string, ours?: 'ours'): boolean;
  /** application_name of this process's sessions that make spares (any template). */
  readonly spareSessions: string;
}

const hex = (text: string, length: number) =>
  createHash('sha256').update(text).digest('hex').slice(0, length);
const HOST = hex(hostname(), 4);
/** `mlt_<namespace>_d_<host>_<pid>_<random>`: the pid says whether its creator still runs. */
const TEST_DATABASE = /^mlt_[0-9a-f]{8}_d_([0-9a-f]{4})_(\d+)_[0-9a-f]{6}$/;
/** `mlt_<namespace>_s_<migration set>_<host>_<pid>_<random>`. */
const SPARE = /^mlt_[0-9a-f]{8}_s_[0-9a-f]{16}_([0-9a-f]{4})_(\d+)_[0-9a-f]{6}$/;
const random = () => randomBytes(3).toString('hex');

export async function namesFor(options: PostgresOptions): Promise<Naming> {
  const where = options.url
    ? new URL(options.url).pathname
    : `${options.host}:${options.port}/${options.database}`;
  const namespace = hex(where, 8);
  const set = await migrationSetHash(options);
  const spare = `mlt_${namespace}_s_${set}`;
  return {
    namespace,
    template: `mlt_${namespace}_t_${set}`,
    newDatabase: () => `mlt_${namespace}_d_${HOST}_${process.pid}_${random()}`,
    newSpare: () => `${spare}_${HOST}_${process.pid}_${random()}`,
    isSpare: (name, ours) =>
      SPARE.test(name) && name.startsWith(ours ? `${spare}_${HOST}_${process.pid}_` : `${spare}_`),
    spareSessions: `nestjs-migration-lock:spare ${HOST}_${process.pid}`,
  };
}

const hashes = new Map<unknown, string>();

/**
 * A hash of the migrations' names and code: a new or changed migration makes a new template.
 * Loaded the way TypeORM loads them (classes or glob paths), without connecting; once per process.
 */
async function migrationSetHash(options: PostgresOptions): Promise<string> {
  const known = hashes.get(options.migrations);
  if (known) return known;
  const loader = new DataSource({ ...options, entities: [] }) as unknown as {
    buildMetadatas(): Promise<void>;
    migrations: Array<{ name?: string; constructor: { name: string; toString(): string } }>;
  };
  await loader.buildMetadatas();
  // A glob of compiled files before the build: the template would be empty, and every test would
  // fail later on a missing table. Said on stderr (a test runner shows it), once per migration set.
  if (loader.migrations.length === 0)
    process.emitWarning(messages.noMigrations(options.migrations));
  const text = loader.migrations
    .map(
      (migration) =>
        `${migration.name ?? migration.constructor.name}\n${migration.constructor.toString()}`,
    )
    .join('\n');
  const hash = hex(text, 16);
  hashes.set(options.migrations, hash);
  return hash;
}

/** One of this package's test databases (not a template). */
export function isTestDatabase(name: string): boolean {
  return TEST_DATABASE.test(name);
}

/** A test database or spare made on this host by a process that no longer runs (it was killed). */
export function isLeftover(name: string): boolean {
  const match = TEST_DATABASE.exec(name) ?? SPARE.exec(name);
  return Boolean(match && match[1] === HOST && !isRunning(Number(match[2])));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
