import type { ValidateOption } from '../history/history-options.js';
import type { MigrationEvents } from './migration-events.js';

/**
 * How migrations use transactions under the lock. Every mode uses the same lock key, so replicas
 * in different modes still exclude each other.
 * - `all`: the lock (`pg_advisory_xact_lock`) and every pending migration share one transaction on
 *   one connection: all or nothing. Safe behind PgBouncer transaction pooling.
 * - `each`: a session-level lock on one connection; each migration runs on that same connection in
 *   its own transaction (or none, for a migration with `transaction = false`, such as
 *   `CREATE INDEX CONCURRENTLY`). Needs a session (not transaction-pooled) connection.
 * - `none`: like `each`, but migrations run without transactions unless they set `transaction = true`.
 */
export type MigrationTransactionMode = 'all' | 'each' | 'none';

/** `all` runs inside the lock's transaction; `each` and `none` commit step by step under the session lock. */
export const LOCK_FORM: Record<MigrationTransactionMode, 'transaction' | 'session'> = {
  all: 'transaction',
  each: 'session',
  none: 'session',
};

/** What a MigrationRunnerService needs of the module options (which satisfy it). */
export interface MigrationRunnerOptions {
  readonly lockId: string;
  readonly lockType: string;
  /** Longest wait for the lock in ms; 0 waits forever. */
  readonly timeoutMs: number;
  readonly transaction: MigrationTransactionMode;
  readonly events?: MigrationEvents;
  /** Where the history is kept (`schema.table` allowed); false keeps none. @default 'migration_lock_history' */
  readonly historyTable?: string | false;
  /** What a run does with drift it finds before it starts. @default 'warn' */
  readonly validate?: ValidateOption;
}
