import type { DataSource } from 'typeorm';
import {
  LockAbortedError,
  LockLostError,
  LockNotExclusiveError,
  LockTimeoutError,
  LockWaitCanceledError,
} from '../errors/migration-lock.errors.js';
import { sqlState } from '../errors/sql-state.js';
import { connectionLossIn } from '../connection/connection-loss.js';
import type { LockConnection, PgClient } from '../connection/lock-connection.js';
import { exclusiveProofSql } from './advisory-lock.sql.js';
import { readLockSessions } from './holder-query.js';
import type { LockRequest } from './lock-request.js';

type LockForm = 'transaction' | 'session';

/*
 * What a failure of a lock call means, in one place: the SQLSTATE or the lost connection behind
 * an error is mapped here to the typed error the caller gets (aborted, lost, timed out, cancelled).
 */

const LOCK_NOT_AVAILABLE = '55P03';
const QUERY_CANCELED = '57014';

/** A timeout, naming the holder as the server sees it now (read on the waiter's own connection). */
export async function lockTimeout(
  connection: LockConnection,
  request: LockRequest,
  timeoutMs: number,
  cause?: unknown,
): Promise<LockTimeoutError> {
  const { holder } = await readLockSessions(
    (sql, params) => connection.queryRunner.query(sql, params),
    request.key,
  ).catch(() => ({ holder: null }));
  return new LockTimeoutError(request.name, timeoutMs, holder ?? undefined, { cause });
}

/** The caller's AbortSignal fired before the lock was held (or in the instant it was granted). */
export function abortedWhileWaiting(request: LockRequest, cause?: unknown): LockAbortedError {
  return new LockAbortedError(request.name, 'waiting', {
    cause: cause ?? request.signal?.reason,
  });
}

/**
 * After the work returned, before its success is reported: a lost connection (the server has
 * released the lock and rolled back) or the caller's abort while it ran.
 */
export function failureAfterWork(
  connection: LockConnection,
  request: LockRequest,
): LockLostError | LockAbortedError | undefined {
  if (connection.lostCause) return new LockLostError(request.name, { cause: connection.lostCause });
  if (request.signal?.aborted)
    return new LockAbortedError(request.name, 'holding', { cause: request.signal.reason });
  return undefined;
}

/** The server answered the unlock with false: the session lock was no longer held. */
export function notHeldAtRelease(request: LockRequest): LockLostError {
  return new LockLostError(request.name);
}

/**
 * LockLostError when `error` (or an error it wraps, or an earlier event) says the lock's connection
 * is gone, whatever the work was doing: named after what ended it, in the server's words when it
 * said any (pg_terminate_backend, a shutdown) rather than the socket's close that followed.
 */
function lostConnection(
  connection: LockConnection | undefined,
  request: LockRequest,
  error: unknown,
  phase: 'waiting' | 'holding',
): LockLostError | undefined {
  const loss = connectionLossIn(error);
  if (!connection?.lostCause && !loss) return undefined;
  const named = loss && sqlState(loss) !== undefined ? loss : connection?.lostCause;
  return new LockLostError(request.name, { cause: named ?? loss ?? error, phase });
}

/**
 * Maps an error seen while waiting for the lock (`connection`: undefined when even the first
 * statement found none alive): a lost connection is LockLostError (waiting).
 */
export function waitingFailure(
  connection: LockConnection | undefined,
  request: LockRequest,
  error: unknown,
): unknown {
  return lostConnection(connection, request, error, 'waiting') ?? error;
}

/** Maps an error seen while holding the lock: a lost connection always wins, then an abort. */
export function holdingFailure(
  connection: LockConnection,
  request: LockRequest,
  error: unknown,
): unknown {
  const lost = lostConnection(connection, request, error, 'holding');
  if (lost) return lost;
  if (request.signal?.aborted)
    return new LockAbortedError(request.name, 'holding', { cause: error });
  return error;
}

/**
 * Maps a failed wait of the transaction-level lock: the caller's abort, a cancel nobody here asked
 * for, a lost connection, or lock_timeout (naming the holder); anything else as it is.
 */
export async function transactionWaitFailure(
  connection: LockConnection,
  request: LockRequest,
  timeoutMs: number,
  error: unknown,
): Promise<unknown> {
  const code = sqlState(error);
  if (request.signal?.aborted && (code === QUERY_CANCELED || !connection.lostCause)) {
    return abortedWhileWaiting(request, error);
  }
  if (code === QUERY_CANCELED) return new LockWaitCanceledError(request.name, { cause: error });
  const lost = lostConnection(connection, request, error, 'waiting');
  if (lost) return lost;
  if (code !== LOCK_NOT_AVAILABLE) return error;
  // The transaction is aborted; roll back before asking who holds the lock.
  await connection.queryRunner.rollbackTransaction();
  return lockTimeout(connection, request, timeoutMs, error);
}

/*
 * Whether a server's advisory locks exclude at all, proven once per DataSource and form: after the
 * first try of a form that says "taken", one statement looks for the lock's own row in pg_locks; a
 * stub's "taken" leaves none, and is refused before any work runs. A try that says "not taken"
 * already shows a real lock held elsewhere and sends nothing: waiters never pay for the proof.
 */
const provenForms = new WeakMap<DataSource, Set<LockForm>>();

/** Whether `form` was proven on `dataSource` (tests read it; locks ask assertExclusive). */
export function exclusiveProven(dataSource: DataSource, form: LockForm): boolean {
  return provenForms.get(dataSource)?.has(form) === true;
}

/**
 * After a try that took the lock: nothing once the form is proven on `dataSource`; otherwise one
 * statement, and LockNotExclusiveError when the server holds no such lock.
 */
export async function assertExclusive(
  client: PgClient,
  dataSource: DataSource,
  form: LockForm,
  request: LockRequest,
): Promise<void> {
  if (exclusiveProven(dataSource, form)) return;
  const { rows } = await client.query<{ proven: boolean; server_version: string }>(
    exclusiveProofSql(request.key),
  );
  if (rows[0]?.proven !== true)
    throw new LockNotExclusiveError(request.name, form, String(rows[0]?.server_version));
  const forms = provenForms.get(dataSource) ?? new Set<LockForm>();
  provenForms.set(dataSource, forms.add(form));
}
