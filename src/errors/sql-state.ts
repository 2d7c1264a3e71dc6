/** The SQLSTATE of a pg error, also when TypeORM wrapped it in a QueryFailedError. */
export function sqlState(error: unknown): string | undefined {
  const withCode = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = withCode?.code ?? withCode?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The severity of an error the server sent (pg's DatabaseError, also wrapped by TypeORM): its
 * presence means the server answered; undefined for errors of the client or the socket. It is the
 * localized field (lc_messages), so only English servers say `FATAL` here.
 */
export function serverSeverity(error: unknown): string | undefined {
  const withSeverity = error as
    { severity?: unknown; driverError?: { severity?: unknown } } | undefined;
  const severity = withSeverity?.severity ?? withSeverity?.driverError?.severity;
  return typeof severity === 'string' ? severity : undefined;
}
