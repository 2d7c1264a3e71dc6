import type { LockSession } from './lock-session.js';
import { messages } from './migration-lock.messages.js';

/**
 * Base of every error this package throws. `code` is stable across versions: match on it,
 * not on the message.
 */
export abstract class MigrationLockError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A lock id or type that is not a non-empty string. Thrown before any SQL runs. */
export class InvalidLockArgumentError extends MigrationLockError {
  static readonly code = 'INVALID_LOCK_ARGUMENT';
  readonly code = InvalidLockArgumentError.code;

  static create(argument: string, value: unknown): InvalidLockArgumentError {
    return new InvalidLockArgumentError(messages.invalidLockArgument(argument, value));
  }

  static work(value: unknown): InvalidLockArgumentError {
    return new InvalidLockArgumentError(messages.invalidWork(value));
  }
}

/** Module or call options that cannot work. Thrown at start-up or before any SQL runs. */
export class InvalidOptionsError extends MigrationLockError {
  static readonly code = 'INVALID_OPTIONS';
  readonly code = InvalidOptionsError.code;
}

/** The DataSource cannot be used safely (missing, not PostgreSQL, or `migrationsRun: true`). */
export class DataSourceConfigError extends MigrationLockError {
  static readonly code = 'DATA_SOURCE_CONFIG';
  readonly code = DataSourceConfigError.code;
}

/** The server-side `lock_timeout` expired while waiting. Names the holder when it still held the lock. */
export class LockTimeoutError extends MigrationLockError {
  static readonly code = 'LOCK_TIMEOUT';
  readonly code = LockTimeoutError.code;

  constructor(
    readonly lock: string,
    readonly timeoutMs: number,
    readonly holder: LockSession | undefined,
    options?: { cause?: unknown },
  ) {
    super(messages.lockTimeout(lock, timeoutMs, holder), options);
  }
}

/**
 * The server cancelled a lock wait that the caller did not abort (SQLSTATE 57014: an operator's
 * pg_cancel_backend, or a statement_timeout the module could not lift). Nothing is held: retry.
 */
export class LockWaitCanceledError extends MigrationLockError {
  static readonly code = 'LOCK_WAIT_CANCELED';
  readonly code = LockWaitCanceledError.code;

  constructor(
    readonly lock: string,
    options?: { cause?: unknown },
  ) {
    super(messages.lockWaitCanceled(lock), options);
  }
}

/** The caller's AbortSignal fired: the wait was cancelled at the server, or the work rolled back. */
export class LockAbortedError extends MigrationLockError {
  static readonly code = 'LOCK_ABORTED';
  readonly code = LockAbortedError.code;

  constructor(
    readonly lock: string,
    readonly phase: 'waiting' | 'holding',
    options?: { cause?: unknown },
  ) {
    super(messages.lockAborted(lock, phase), options);
  }
}

/**
 * The lock's connection died: while the protected work ran (nothing was committed), or while
 * waiting for the lock (nothing ran). Never reported as success, never a silent end of a wait.
 */
export class LockLostError extends MigrationLockError {
  static readonly code = 'LOCK_LOST';
  readonly code = LockLostError.code;

  constructor(
    readonly lock: string,
    options?: { cause?: unknown; phase?: 'waiting' | 'holding' },
  ) {
    super(messages.lockLost(lock, options?.phase ?? 'holding', options?.cause), options);
    this.phase = options?.phase ?? 'holding';
  }

  /** `waiting`: the connection died before the lock was held; nothing ran. */
  readonly phase: 'waiting' | 'holding';
}

/**
 * PostgreSQL answered COMMIT with ROLLBACK: a statement of the protected work failed and the
 * error was caught without being rethrown. Nothing was committed.
 */
export class TransactionRolledBackError extends MigrationLockError {
  static readonly code = 'TRANSACTION_ROLLED_BACK';
  readonly code = TransactionRolledBackError.code;

  constructor(readonly lock: string) {
    super(messages.transactionRolledBack(lock));
  }
}

/**
 * A session-level lock was refused because its connection goes through a pooler or proxy, where
 * the lock could pass to other clients. Thrown before the lock is tried.
 */
export class SessionLockThroughPoolerError extends MigrationLockError {
  static readonly code = 'SESSION_LOCK_THROUGH_POOLER';
  readonly code = SessionLockThroughPoolerError.code;

  constructor(
    readonly lock: string,
    readonly backendPid: number,
    readonly processId: number,
  ) {
    super(messages.sessionLockThroughPooler(lock, backendPid, processId));
  }
}

/**
 * The server accepted the lock call but took no lock: its advisory-lock functions are stubs that
 * exclude nothing (CockroachDB before 26.1, its session forms still; YugabyteDB with advisory locks
 * off and their error silenced; a replaced function). Proven on the first lock of each form, by the
 * lock's own row in pg_locks; thrown before any work runs.
 */
export class LockNotExclusiveError extends MigrationLockError {
  static readonly code = 'LOCK_NOT_EXCLUSIVE';
  readonly code = LockNotExclusiveError.code;

  constructor(
    readonly lock: string,
    readonly form: 'transaction' | 'session',
    readonly serverVersion: string,
  ) {
    super(messages.lockNotExclusive(lock, form, serverVersion));
  }
}

/**
 * createTestDatabase was given options that reach PostgreSQL through a pooler or proxy: its template
 * lock is session-level, and a pooler could hand it to other clients while the template is built.
 * Thrown before the lock is tried and before any database is created.
 */
export class TestDatabaseThroughPoolerError extends MigrationLockError {
  static readonly code = 'TEST_DATABASE_THROUGH_POOLER';
  readonly code = TestDatabaseThroughPoolerError.code;

  constructor(
    readonly backendPid: number,
    readonly processId: number,
  ) {
    super(messages.testDatabaseThroughPooler(backendPid, processId));
  }
}

/**
 * A `@WithAdvisoryLock` method was called on an instance no MigrationLockModule registration has
 * found (not a provider or controller of an app that registers the module for its DataSource, or
 * called before the app's modules were initialized).
 */
export class JobNotRegisteredError extends MigrationLockError {
  static readonly code = 'JOB_NOT_REGISTERED';
  readonly code = JobNotRegisteredError.code;

  constructor(job: string, method: string, dataSourceName: string | undefined) {
    super(messages.jobNotRegistered(job, method, dataSourceName));
  }
}

/** AdvisoryLockContext was asked for the lock's EntityManager outside any lock. */
export class NoLockHeldError extends MigrationLockError {
  static readonly code = 'NO_LOCK_HELD';
  readonly code = NoLockHeldError.code;

  constructor() {
    super(messages.noLockHeld());
  }
}
