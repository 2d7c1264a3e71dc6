/** What one migration run did on this replica. */
export interface MigrationRunResult {
  /**
   * `applied`: this replica held the lock and applied at least one migration.
   * `followed`: another replica applied them, while this one waited or just before it took the lock.
   * `upToDate`: nothing was pending when this replica looked; it took no lock and did not wait.
   */
  readonly outcome: 'applied' | 'followed' | 'upToDate';
  /** Names of the migrations this replica applied, in order. */
  readonly applied: readonly string[];
  /** How long this replica waited for the lock, in ms (0 when it saw nothing pending without it). */
  readonly waitedMs: number;
  /** How long this replica held the lock, in ms (0 when it did not take it). */
  readonly heldMs: number;
}

/** The one log line of a finished run. `lock`: `id/type`. */
export function describeResult(result: MigrationRunResult, lock: string, mode: string): string {
  switch (result.outcome) {
    case 'applied':
      return `Applied ${result.applied.length} migration(s) under lock "${lock}" (transaction: ${mode}): waited ${result.waitedMs} ms, held ${result.heldMs} ms`;
    case 'followed':
      return `No pending migrations: another replica applied them (waited ${result.waitedMs} ms for lock "${lock}"${result.heldMs ? `, held ${result.heldMs} ms` : ''})`;
    case 'upToDate':
      return 'No pending migrations: the schema is up to date';
  }
}
