import { describeSession, type LockSession } from './lock-session.js';
import { sqlState } from './sql-state.js';

/**
 * Every user-facing message in one place, so wording stays consistent.
 * Each says what happened, then how to fix it.
 */
export const messages = {
  invalidLockArgument: (argument: string, value: unknown) =>
    `Advisory lock ${argument} must be a non-empty string, got ${preview(value)}. ` +
    `Pass a stable name such as withLock('migrations', 'Migrations', fn): the same strings on every replica map to the same lock.`,

  invalidWork: (value: unknown) =>
    `The work to run under the lock must be a function (manager, lock) => Promise, got ${preview(value)}.`,

  invalidOption: (where: string, option: string, expected: string, value: unknown) =>
    `Invalid ${where} option "${option}": expected ${expected}, got ${preview(value)}.`,

  invalidUrlOption: (where: string, option: string) =>
    `Invalid ${where} option "${option}": expected a postgres://user:password@host:port/database URL (the value is not shown: it may hold a password).`,

  jobNotRegistered: (job: string, method: string, dataSourceName: string | undefined) =>
    `${method} runs under advisory lock ${job} (@WithAdvisoryLock), but no MigrationLockModule registration` +
    `${dataSourceName === undefined ? '' : ` for dataSourceName "${dataSourceName}"`} knows this instance. ` +
    'Potential solutions: make the class a provider (or controller) of an app that imports ' +
    `MigrationLockModule.forRoot(${dataSourceName === undefined ? '' : `{ dataSourceName: '${dataSourceName}' }`}); ` +
    'call the method once the app is initialized (from onApplicationBootstrap on, as @nestjs/schedule does).',

  timeoutWithoutWait: (where: string) =>
    `Invalid ${where} options: timeoutMs bounds a wait, and only onHeld: 'wait' waits. ` +
    "Add onHeld: 'wait', or drop timeoutMs (onHeld: 'skip' returns at once when the lock is held).",

  noLockHeld: () =>
    'AdvisoryLockContext.manager() was called outside any advisory lock. ' +
    'Call it from a @WithAdvisoryLock method, or from work run by withLock / tryWithLock.',

  unknownOption: (where: string, option: string, known: readonly string[]) =>
    `Unknown ${where} option "${option}". Known options: ${known.join(', ')}. Check the spelling.`,

  lockTimeout: (lock: string, timeoutMs: number, holder: LockSession | undefined) =>
    `Timed out after ${timeoutMs} ms waiting for advisory lock ${lock}, ` +
    (holder
      ? `held by ${describeSession(holder)}. `
      : 'held by a session that has released it since. ') +
    'Potential solutions: raise timeoutMs (0 waits forever); check whether that holder is stuck ' +
    (holder ? `(SELECT pg_terminate_backend(${holder.pid}) frees the lock); ` : '; ') +
    'or retry: a timed-out wait leaves nothing behind.',

  lockAborted: (lock: string, phase: 'waiting' | 'holding') =>
    phase === 'waiting'
      ? `Stopped waiting for advisory lock ${lock}: the AbortSignal fired. The server-side wait was cancelled; nothing is left in pg_locks.`
      : `Aborted while holding advisory lock ${lock}: the AbortSignal fired, so the work stopped, whatever it had not committed was rolled back, and the lock was released.`,

  lockWaitCanceled: (lock: string) =>
    `The server cancelled the wait for advisory lock ${lock} (SQLSTATE 57014), though this process did not abort it: ` +
    'someone ran pg_cancel_backend on the waiting session, or a timeout the module cannot lift cut it. Nothing was held and nothing was done. ' +
    'Potential solutions: retry; check who cancels backends (pg_stat_activity, the server log).',

  lockLost: (lock: string, phase: 'waiting' | 'holding', cause: unknown) =>
    (phase === 'waiting'
      ? `Lost the connection while waiting for advisory lock ${lock}: nothing was held and nothing ran. `
      : `Lost advisory lock ${lock}: its connection ended while the protected work was running, so the server released the lock and rolled the transaction back ` +
        '(unless the connection broke during COMMIT itself). ') +
    // The cause in the message too: the CLI, and most loggers, print the message alone.
    (cause === undefined ? '' : `What ended it: ${causeText(cause).replace(/\.$/, '')}. `) +
    'Potential solutions: check the PostgreSQL log for a terminated backend, a restart or failover, a server or network that stopped answering, or a timeout ' +
    '(idle_in_transaction_session_timeout, idle_session_timeout, transaction_timeout), and retry.',

  serverSilent: (withinMs: number) =>
    `No answer from PostgreSQL for ${withinMs} ms (the lock timeout plus 5 s): ` +
    'the connection is treated as lost (a failover, a network cut, a stopped server) and closed.',

  transactionRolledBack: (lock: string) =>
    `PostgreSQL rolled the transaction of advisory lock ${lock} back at COMMIT: a statement in it failed earlier and the error was caught without being rethrown. ` +
    'Nothing was committed. Let the error propagate, or wrap the statement that may fail in manager.transaction() so it rolls back to a savepoint.',

  migrationFailed: (name: string, cause: unknown) =>
    `Migration "${name}" failed: ${causeText(cause)}. It was rolled back (in transaction mode 'all' together with the whole run; in 'each' the migrations before it stay applied). ` +
    (FIX_BY_SQLSTATE[sqlState(cause) ?? ''] ?? 'Fix the migration and start again.'),

  migrationDrift: (findings: ReadonlyArray<{ kind: string; name: string }>) =>
    `The migration history does not match the code: ${describeFindings(findings)}. Nothing was applied. ` +
    'Restore the applied migration as it was (changed, missing), or give a new migration a timestamp newer than the newest applied (out of order); ' +
    "see docs/history.md. To start anyway, set validate: 'warn' (or per finding, e.g. { changed: 'warn' }).",

  invalidTenantSchema: (schema: unknown) =>
    `Invalid tenant schema ${preview(schema)}: expected a plain identifier (a letter or _, then letters, digits, _ or $; at most 63 bytes; not pg_… nor information_schema). ` +
    'Nothing was sent to the database. Rename the schema, or leave it out of tenants.schemas.',

  tenantMigrationsFailed: (
    failures: ReadonlyArray<{ schema: string; migration?: string; error: string }>,
    total: number,
  ) =>
    `${failures.length} of ${total} tenant schema(s) failed to migrate (each rolled back; every other tenant is current): ` +
    failures
      .map(
        (failure) =>
          `"${shown(failure.schema)}"${failure.migration ? ` at ${shown(failure.migration)}` : ''}: ${failure.error}`,
      )
      .join('; ') +
    ". Fix them and start again, or set tenants.onFailure: 'report' to start while they are named in the health check.",

  transactionOverride: (name: string, mode: string) =>
    `Migration "${name}" sets transaction = false, which cannot run inside the single transaction of transaction mode "${mode}". ` +
    `Potential solutions: run with the option transaction: 'each' (each migration in its own transaction, this one in none), or remove the override.`,

  noDataSource: (dataSourceName: string | undefined) =>
    `MigrationLockModule found no TypeORM DataSource${dataSourceName ? ` named "${dataSourceName}"` : ''}. Potential solutions: ` +
    `install @nestjs/typeorm and import TypeOrmModule.forRoot(${dataSourceName ? `{ name: '${dataSourceName}', ... }` : '...'}) in the same application, ` +
    `or pass a DataSource directly: MigrationLockModule.forRoot({ dataSource }).`,

  migrationsRunEnabled: (alreadyInitialized: boolean) =>
    (alreadyInitialized
      ? 'The DataSource has migrationsRun: true, so TypeORM already ran the pending migrations inside initialize(), without any lock, before this module started: replicas starting together may have applied them concurrently. '
      : 'The DataSource has migrationsRun: true, so TypeORM would run migrations inside initialize() without any lock; nothing was run. ') +
    'Set migrationsRun: false (or remove it) in the DataSource options: MigrationLockModule runs the migrations under the advisory lock at bootstrap.',

  schemaSyncOutsideLock: (settings: readonly string[]) =>
    `The DataSource has ${settings.map((s) => `${s}: true`).join(' and ')}: TypeORM runs that inside initialize(), outside the migration lock, ` +
    'so replicas starting together change the schema concurrently. Use migrations instead (and set these to false) wherever more than one replica starts.',

  sessionLockThroughPooler: (lock: string, backendPid: number, processId: number) =>
    `Refused the session-level form of advisory lock ${lock}: its connection goes through a connection pooler or proxy ` +
    `(the server's backend pid ${backendPid} is not the process ID ${processId} the connection was given at start-up, as with PgBouncer). ` +
    'Behind a pooler in transaction mode a session-level lock stays on a server connection that is handed to other clients, so two replicas could migrate at once. ' +
    "Potential solutions: use transaction: 'all' (a transaction-level lock, safe behind any pooler), " +
    'or give the module a direct connection to PostgreSQL for the session lock and the migrations: the option directUrl (CLI: --direct-url or MIGRATION_LOCK_DIRECT_URL).',

  lockNotExclusive: (lock: string, form: 'transaction' | 'session', serverVersion: string) =>
    `Refused advisory lock ${lock}: the server answered the ${form}-level lock call as taken, but holds no such lock ` +
    `(its row is not in pg_locks), so it would exclude no other replica. Server: ${shown(serverVersion)}. ` +
    'Its advisory-lock functions are stubs, or were replaced. Potential solutions: on PostgreSQL, restore the built-in functions; ' +
    "on CockroachDB 26.1 or later the transaction-level form is real (transaction: 'all', withLock, tryWithLock, @WithAdvisoryLock), the session-level form never is (transaction: 'each' / 'none', withSessionLock); " +
    'on YugabyteDB, turn yb_enable_advisory_lock on; elsewhere, run the migrations against PostgreSQL itself.',

  testDatabaseThroughPooler: (backendPid: number, processId: number) =>
    `createTestDatabase refused its dataSourceOptions: they reach PostgreSQL through a connection pooler or proxy ` +
    `(the server's backend pid ${backendPid} is not the process ID ${processId} the connection was given at start-up, as with PgBouncer). ` +
    'The template is built under a session-level advisory lock, which a pooler can hand to other clients, so two Jest workers could build it at once; ' +
    'and CREATE DATABASE … TEMPLATE fails while a pooler keeps a connection to the template open. ' +
    "Fix: give createTestDatabase options that reach PostgreSQL directly (the server's own host and port, not the pooler's); " +
    'the app under test can still use the pooler with the returned database name.',

  invalidIndexes: (
    indexes: ReadonlyArray<{ schema: string; name: string; table: string; repair: string }>,
    migrationName: string | undefined,
  ) =>
    `Found ${indexes.length} invalid index(es), left by an interrupted CREATE INDEX CONCURRENTLY (a killed or cancelled migration) and built by no session now: ` +
    indexes.map((index) => `"${index.schema}"."${index.name}" on "${index.table}"`).join(', ') +
    '. ' +
    (migrationName
      ? `Migration "${migrationName}" ran, but was not recorded as applied while an index is invalid. `
      : 'No migration ran. ') +
    `Repair: run ${indexes.map((index) => index.repair).join(' ')} then start again: the migration that builds ${indexes.length > 1 ? 'them' : 'it'} runs again ` +
    '(re-running it as is would fail with "already exists", or with IF NOT EXISTS keep the invalid index).',

  notPostgres: (type: string) =>
    `MigrationLockModule needs a PostgreSQL DataSource (type "postgres"), got type "${type}". Advisory locks are a PostgreSQL feature.`,

  noMigrations: (given: unknown) =>
    `The DataSource lists no migrations (its migrations option: ${Array.isArray(given) ? given.map((entry) => (typeof entry === 'string' ? JSON.stringify(shown(entry)) : 'a class')).join(', ') || 'empty' : preview(given)}), so there is nothing to run. ` +
    'A glob of compiled files such as "dist/migrations/*.js" matches nothing before the build: build first, or point it at the files that exist.',
};

/**
 * What to do when a migration failed for a reason that is not the migration's own code: the
 * database it ran on cannot take it.
 */
const FIX_BY_SQLSTATE: Record<string, string> = {
  '25006':
    'The migration is sound, the database is not writable here: a hot standby (a read replica), or default_transaction_read_only is on. Point the DataSource (or its replication master) at the primary, then start again.',
  '3F000':
    "A schema it uses does not exist: create it first (or fix the DataSource's schema option), then start again.",
  '42501':
    'The role the DataSource connects as lacks a privilege the migration needs: run migrations as a role that owns the schema (e.g. the CLI with its own credentials in an init container), then start again.',
};

/** Ids, types and values in messages, cut: a 1,000,000-character lock id must not make a 1 MB message. */
const MAX_SHOWN = 100;
export function shown(text: string): string {
  return text.length <= MAX_SHOWN
    ? text
    : `${text.slice(0, MAX_SHOWN)}… (${text.length} characters)`;
}

function preview(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(shown(value));
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return `${typeof value} ${String(value)}`;
}

function causeText(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** How findings read in messages and logs: each kind once, with the migrations it names. */
const FINDING_WORDS: Record<string, string> = {
  changed: 'changed since applied',
  missing: 'applied but missing from the code',
  outOfOrder: 'out of order (pending, older than the newest applied)',
  unrecorded: 'applied before history was kept',
  unverifiable: 'not verifiable (its statements depend on data)',
};

export function describeFindings(findings: ReadonlyArray<{ kind: string; name: string }>): string {
  const byKind = new Map<string, string[]>();
  for (const { kind, name } of findings) byKind.set(kind, [...(byKind.get(kind) ?? []), name]);
  return [...byKind]
    .map(([kind, names]) => `${FINDING_WORDS[kind] ?? kind}: ${names.map(shown).join(', ')}`)
    .join('; ');
}
