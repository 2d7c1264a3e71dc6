/** The SQLSTATE of a pg error, also when TypeORM wrapped it in a QueryFailedError. */
export function sqlState(error: unknown): string | undefined {
  const withCode = error as { code?: unknown; driverError?: { code?: unknown } } | undefined;
  const code = withCode?.code ?? withCode?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}
