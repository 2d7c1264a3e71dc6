import type { MigrationCapture } from './migration-checksum.js';

/*
 * What validation finds when it sets the migrations the code has beside the history the database
 * keeps. A pure function: reading the tables and capturing the migrations happen elsewhere.
 */

/** An applied migration: its row in the migrations table, and what the history recorded of it. */
export interface AppliedMigration {
  readonly name: string;
  readonly timestamp: number;
  /** The history's row: absent for a migration applied before the module kept history. */
  readonly recorded?: { readonly checksum: string | null };
}

/**
 * A migration in the code, with the capture of its up() when its checksum is to be compared
 * (an applied migration without one is not compared: pending ones, or validation without checksums).
 */
export interface CodeMigration {
  readonly name: string;
  readonly timestamp: number;
  readonly capture?: MigrationCapture;
}

export type DriftFinding =
  /** The code's checksum differs from the one recorded when it was applied. */
  | {
      readonly kind: 'changed';
      readonly name: string;
      readonly recorded: string;
      readonly current: string;
    }
  /** Applied, and no longer in the code. */
  | { readonly kind: 'missing'; readonly name: string }
  /** Pending, and older than the newest applied migration: TypeORM would run it out of order. */
  | { readonly kind: 'outOfOrder'; readonly name: string; readonly newestApplied: string }
  /** Applied before the module kept history: baselined on the next run. */
  | { readonly kind: 'unrecorded'; readonly name: string }
  /** Applied, but its statements cannot be captured (or were not when applied): not compared. */
  | { readonly kind: 'unverifiable'; readonly name: string; readonly reason: string };

/** The kinds a CI check fails on (`migration-lock validate` exits 1). */
export const FAILING_KINDS: ReadonlySet<DriftFinding['kind']> = new Set([
  'changed',
  'missing',
  'outOfOrder',
]);

/** Every finding, in the order of the migrations (applied ones first, by timestamp). */
export function findDrift(
  applied: readonly AppliedMigration[],
  code: readonly CodeMigration[],
): DriftFinding[] {
  const inCode = new Map(code.map((migration) => [migration.name, migration]));
  const appliedNames = new Set(applied.map((migration) => migration.name));
  const findings: DriftFinding[] = [];
  const byTime = [...applied].sort((a, b) => a.timestamp - b.timestamp);
  for (const migration of byTime) {
    const current = inCode.get(migration.name);
    if (!current) findings.push({ kind: 'missing', name: migration.name });
    else if (!migration.recorded) findings.push({ kind: 'unrecorded', name: migration.name });
    else findings.push(...compared(migration.name, migration.recorded.checksum, current.capture));
  }
  const newest = byTime.at(-1);
  if (newest)
    for (const migration of code)
      if (!appliedNames.has(migration.name) && migration.timestamp < newest.timestamp)
        findings.push({ kind: 'outOfOrder', name: migration.name, newestApplied: newest.name });
  return findings;
}

function compared(
  name: string,
  recorded: string | null,
  capture: MigrationCapture | undefined,
): DriftFinding[] {
  if (!capture) return [];
  if (recorded === null)
    return [
      {
        kind: 'unverifiable',
        name,
        reason: 'its statements could not be captured when it was applied',
      },
    ];
  if (!capture.verifiable) return [{ kind: 'unverifiable', name, reason: capture.reason }];
  return capture.checksum === recorded
    ? []
    : [{ kind: 'changed', name, recorded, current: capture.checksum }];
}
