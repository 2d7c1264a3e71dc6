type PgErrorFields = { code?: unknown; severity?: unknown };

/** A text field of a pg error, also when TypeORM wrapped it in a QueryFailedError (driverError). */
function pgErrorField(error: unknown, field: keyof PgErrorFields): string | undefined {
  const outer = error as (PgErrorFields & { driverError?: PgErrorFields }) | undefined;
  const value = outer?.[field] ?? outer?.driverError?.[field];
  return typeof value === 'string' ? value : undefined;
}

/** The SQLSTATE of a pg error, also when TypeORM wrapped it in a QueryFailedError. */
export function sqlState(error: unknown): string | undefined {
  return pgErrorField(error, 'code');
}

/**
 * The severity of an error the server sent (pg's DatabaseError, also wrapped by TypeORM): its
 * presence means the server answered; undefined for errors of the client or the socket. It is the
 * localized field (lc_messages), so only English servers say `FATAL` here.
 */
export function serverSeverity(error: unknown): string | undefined {
  return pgErrorField(error, 'severity');
}

/** SQLSTATE 42P01: a statement named a table that does not exist. */
export const UNDEFINED_TABLE = '42P01';
