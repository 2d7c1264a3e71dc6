import { MigrationLockError } from '../errors/migration-lock.errors.js';

/** Bad command-line usage: a missing file, a bad duration, no DataSource export. Exit 2. */
export class CliUsageError extends MigrationLockError {
  static readonly code = 'CLI_USAGE';
  readonly code = CliUsageError.code;
}

/** The database did not accept a connection. Exit 2: fix the configuration, then retry. */
export class DatabaseUnreachableError extends MigrationLockError {
  static readonly code = 'DATABASE_UNREACHABLE';
  readonly code = DatabaseUnreachableError.code;

  /** `target`: where it tried, host, port and database only (never the user or password). */
  static create(cause: unknown, target: string): DatabaseUnreachableError {
    return new DatabaseUnreachableError(
      `Cannot connect to the database at ${target}: ${(cause as Error).message}. Check the host, port, database and credentials of the data source, and that the server (or pooler) answers.`,
      { cause },
    );
  }
}
