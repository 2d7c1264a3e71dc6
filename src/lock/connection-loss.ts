import { sqlState } from '../errors/sql-state.js';

/*
 * Errors that mean the lock's connection is gone, so the server has already released the lock and
 * rolled the transaction back. Seen as: pg_terminate_backend (57P01), server shutdown (57P02/57P03),
 * idle_in_transaction_session_timeout (25P03), transaction_timeout (25P04), connection exceptions
 * (class 08), or the socket closing under node-postgres.
 */
const CONNECTION_LOSS_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '25P03', '25P04']);
const CONNECTION_LOSS_MESSAGE =
  /Connection terminated|connection (is )?closed|Client has encountered a connection error|ECONNRESET|EPIPE/i;

export function isConnectionLoss(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'QueryRunnerAlreadyReleasedError') return true;
  const code = sqlState(error);
  if (code && (CONNECTION_LOSS_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  return CONNECTION_LOSS_MESSAGE.test(error.message);
}
