/** What one migration run did on this replica. */
export interface MigrationRunResult {
  /**
   * `applied`: this replica held the lock and applied at least one migration.
   * `followed`: nothing was pending (another replica applied them, or there were none).
   */
  readonly outcome: 'applied' | 'followed';
  /** Names of the migrations this replica applied, in order. */
  readonly applied: readonly string[];
  /** How long this replica waited for the lock, in ms (0 when it saw nothing pending without it). */
  readonly waitedMs: number;
  /** How long this replica held the lock, in ms (0 when it did not take it). */
  readonly heldMs: number;
}
