import type { DataSource } from 'typeorm';
import type { MigrationEvents } from '../migration-runner/migration-events.js';
import type { MigrationRunResult } from '../migration-runner/migration-run-result.js';
import { describeSession, type LockSession } from '../errors/lock-session.js';
import { readAllAdvisoryLocks, readLockStatus } from '../status/lock-status.js';
import { openCliContext, type CommonOptions } from './cli-context.js';
import type { CommandOutput } from './command-output.js';
import { driftSummary } from './history-commands.js';
import { signalOnTermination } from './termination-signal.js';
import { WaitProgress } from './wait-progress.js';

/** Live wait progress and applied migrations on stderr, except with --json. */
const withProgress =
  (options: CommonOptions) =>
  (dataSource: DataSource): MigrationEvents | undefined =>
    options.json
      ? undefined
      : new WaitProgress(dataSource, { id: options.lockId, type: options.lockType });

const RUN_TEXT: Record<MigrationRunResult['outcome'], (result: MigrationRunResult) => string> = {
  applied: (result) =>
    `Applied ${result.applied.length} migration(s): ${result.applied.join(', ')} (waited ${result.waitedMs} ms, held ${result.heldMs} ms).`,
  followed: (result) =>
    `No pending migrations: another replica applied them (waited ${result.waitedMs} ms).`,
  upToDate: () => 'No pending migrations.',
};

export async function runCommand(options: CommonOptions): Promise<CommandOutput> {
  const context = await openCliContext(options, withProgress(options));
  try {
    const result = await context.runner.run({ signal: signalOnTermination() });
    // Drift that only warns is looked for after the run: said before the command exits.
    await context.runner.validationDone;
    return {
      json: { status: result.outcome, ...result },
      text: RUN_TEXT[result.outcome](result),
    };
  } finally {
    await context.close();
  }
}

export async function revertCommand(options: CommonOptions): Promise<CommandOutput> {
  const context = await openCliContext(options, withProgress(options));
  try {
    const reverted = await context.runner.revert({ signal: signalOnTermination() });
    return {
      json: { status: reverted ? 'reverted' : 'nothing', reverted: reverted ?? null },
      text: reverted ? `Reverted ${reverted}.` : 'No migration to revert.',
    };
  } finally {
    await context.close();
  }
}

export async function showCommand(options: CommonOptions): Promise<CommandOutput> {
  const context = await openCliContext(options);
  try {
    const { applied, pending } = await context.runner.show();
    const lines = [
      ...applied.map((name) => ` [X] ${name}`),
      ...pending.map((name) => ` [ ] ${name}`),
    ];
    return {
      json: { applied, pending },
      text: `${lines.join('\n') || ' (no migrations)'}\n${applied.length} applied, ${pending.length} pending.`,
    };
  } finally {
    await context.close();
  }
}

export async function statusCommand(
  options: CommonOptions & { all: boolean },
): Promise<CommandOutput> {
  const context = await openCliContext(options);
  try {
    const status = await readLockStatus(context.dataSource, options.lockId, options.lockType);
    const all = options.all
      ? await readAllAdvisoryLocks(context.dataSource, [
          [options.lockId, options.lockType],
          ['migrations', 'Migrations'],
        ])
      : undefined;
    const drift = await driftSummary(() => context.runner.validate());
    const lockName = `"${options.lockId}/${options.lockType}" (${status.lock.key.join(', ')})`;
    const lines = [
      `Migration lock ${lockName}: ${status.holder ? 'held' : 'free'}${status.waiters.length ? `, ${status.waiters.length} waiting` : ''}.`,
      ...(status.holder ? [sessionLine('holder', status.holder)] : []),
      ...status.waiters.map((waiter) => sessionLine('waiter', waiter)),
      ...(all
        ? [
            '',
            `All advisory locks in this database (${all.length}):`,
            ...all.map((entry) =>
              sessionLine(
                `${entry.granted ? 'held' : 'wait'} ${entry.name ?? JSON.stringify(entry.key)}`,
                entry,
              ),
            ),
          ]
        : []),
      drift.line,
    ];
    return {
      json: { ...status, ...(all ? { all } : {}), history: drift.json },
      text: lines.join('\n'),
    };
  } finally {
    await context.close();
  }
}

function sessionLine(role: string, session: LockSession): string {
  const query = session.query
    ? `\n      query: ${session.query.replace(/\s+/g, ' ').slice(0, 200)}`
    : '';
  return `  ${role}  ${describeSession(session)}${query}`;
}
