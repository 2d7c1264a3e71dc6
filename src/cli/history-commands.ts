import type { DriftFinding } from '../history/drift.js';
import type { FailedAttempt, HistoryEntry } from '../migration-runner/history-report.js';
import { openCliContext, type CommonOptions } from './cli-context.js';
import type { CommandOutput } from './command-output.js';
import { CliUsageError } from './cli.errors.js';
import { EXIT } from './exit-codes.js';

/*
 * `validate`, `history` and `run --dry-run`: the history and the pending migrations read without
 * the lock, changing nothing.
 */

/** How a finding reads in a line: its kind as the docs name it, the migration, and detail. */
const FINDING_LINE: Record<DriftFinding['kind'], (finding: DriftFinding) => string> = {
  changed: (f) => {
    const { recorded, current } = f as Extract<DriftFinding, { kind: 'changed' }>;
    return `changed       ${f.name} (recorded ${recorded.slice(0, 12)}, code ${current.slice(0, 12)})`;
  },
  missing: (f) => `missing       ${f.name} (applied, not in the code)`,
  outOfOrder: (f) =>
    `out of order  ${f.name} (pending, older than ${(f as Extract<DriftFinding, { kind: 'outOfOrder' }>).newestApplied})`,
  unrecorded: (f) =>
    `unrecorded    ${f.name} (applied before history was kept: baselined by the next run)`,
  unverifiable: (f) =>
    `unverifiable  ${f.name} (${(f as Extract<DriftFinding, { kind: 'unverifiable' }>).reason})`,
};

/** Exit 0 when clean, 1 on any changed, missing or out-of-order migration: a CI check. */
export async function validateCommand(options: CommonOptions): Promise<CommandOutput> {
  const context = await openCliContext(options);
  try {
    const { findings, clean } = await context.runner.validate();
    const summary = clean
      ? `The migration history matches the code${findings.length ? ' (nothing changed, missing or out of order)' : ''}.`
      : 'The migration history does not match the code: see docs/history.md for what to do.';
    return {
      json: { status: clean ? 'clean' : 'drift', clean, findings },
      text: [...findings.map((finding) => FINDING_LINE[finding.kind](finding)), summary].join('\n'),
      exitCode: clean ? EXIT.OK : EXIT.FAILED,
    };
  } finally {
    await context.close();
  }
}

export async function historyCommand(
  options: CommonOptions & { limit?: string },
): Promise<CommandOutput> {
  const limit = parseLimit(options.limit);
  const context = await openCliContext(options);
  try {
    const { applied, failed } = await context.runner.history({ limit });
    const lines = [
      `Applied migrations, newest first (${applied.length}):`,
      ...(applied.length ? applied.map(appliedLine) : ['  (none)']),
      '',
      `Failed attempts, newest first (${failed.length}):`,
      ...(failed.length ? failed.map(failedLine) : ['  (none)']),
    ];
    return { json: { applied, failed }, text: lines.join('\n') };
  } finally {
    await context.close();
  }
}

/** Prints the SQL each pending migration would send; takes no lock and changes nothing. */
export async function dryRunCommand(options: CommonOptions): Promise<CommandOutput> {
  const context = await openCliContext(options);
  try {
    const { pending } = await context.runner.dryRun();
    const lines = pending.flatMap((migration) => [
      `-- ${migration.name}${migration.dependsOnData ? ` -- depends on data: up() needed rows to go on (${migration.dependsOnData}); the statements below are those before that point` : ''}`,
      ...migration.statements.map(
        (statement) =>
          `${statement.sql.trimEnd().replace(/;$/, '')};${statement.parameters ? ` -- parameters: ${JSON.stringify(statement.parameters)}` : ''}`,
      ),
      '',
    ]);
    lines.push(
      `-- ${pending.length} pending migration(s). Dry run: no lock taken, nothing changed.`,
    );
    return { json: { status: 'dryRun', pending }, text: lines.join('\n') };
  } finally {
    await context.close();
  }
}

/** The one-line drift summary `status` prints; a failure to check does not fail `status`. */
export async function driftSummary(
  validate: () => Promise<{ findings: readonly DriftFinding[]; clean: boolean }>,
): Promise<{ line: string; json: Record<string, unknown> }> {
  try {
    const { findings, clean } = await validate();
    const counts: Record<string, number> = {};
    for (const { kind } of findings) counts[kind] = (counts[kind] ?? 0) + 1;
    const listed = Object.entries(counts)
      .map(([kind, n]) => `${n} ${kind === 'outOfOrder' ? 'out of order' : kind}`)
      .join(', ');
    return {
      line: clean
        ? `History: matches the code${listed ? ` (${listed})` : ''}.`
        : `History: drift: ${listed} (migration-lock validate names them).`,
      json: { clean, counts },
    };
  } catch (error) {
    return {
      line: `History: not checked: ${(error as Error).message}`,
      json: { clean: null, error: (error as Error).message },
    };
  }
}

function appliedLine(entry: HistoryEntry): string {
  if (entry.status === 'unrecorded')
    return `  ${entry.name}  unrecorded (applied before history was kept)`;
  const when = entry.appliedAt ? new Date(entry.appliedAt).toISOString() : '?';
  const by = `${entry.applicationName || '?'} (host ${entry.host}, pid ${entry.pid})`;
  const took = entry.status === 'baseline' ? 'baseline' : `${entry.durationMs} ms`;
  return `  ${entry.name}  ${when}  by ${by}  ${took}  checksum ${entry.checksumStatus}`;
}

function failedLine(attempt: FailedAttempt): string {
  const when = new Date(attempt.failedAt).toISOString();
  const by = `${attempt.applicationName || '?'} (host ${attempt.host}, pid ${attempt.pid})`;
  const code = attempt.errorCode ? `${attempt.errorCode}: ` : '';
  return `  ${attempt.name}  ${when}  by ${by}  ${attempt.durationMs} ms  ${code}${attempt.errorMessage ?? ''}`;
}

function parseLimit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const limit = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(limit) || limit < 1)
    throw new CliUsageError(`--limit: expected a positive integer, got "${value}".`);
  return limit;
}
