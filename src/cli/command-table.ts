import type { CommonOptions } from './cli-context.js';
import type { CommandOutput } from './command-output.js';
import { revertCommand, runCommand, showCommand, statusCommand } from './commands.js';
import { dryRunCommand, historyCommand, validateCommand } from './history-commands.js';

export type { CommandOutput } from './command-output.js';

/** The options every command may get (each reads its own). */
type AnyOptions = CommonOptions & { all: boolean; dryRun: boolean; limit?: string };

const COMMANDS = {
  run: {
    description:
      'apply pending migrations under the lock (--dry-run: print their SQL, take no lock, change nothing)',
    run: (options: AnyOptions) => (options.dryRun ? dryRunCommand(options) : runCommand(options)),
  },
  show: { description: 'list applied and pending migrations', run: showCommand },
  revert: { description: 'revert the last applied migration under the lock', run: revertCommand },
  status: {
    description:
      "show the migration lock's holder and waiters, and whether the history matches the code",
    run: statusCommand,
  },
  validate: {
    description:
      'check the history against the code: exit 1 on a changed, missing or out-of-order migration',
    run: validateCommand,
  },
  history: {
    description: 'list applied migrations (when, by whom, how long, checksum) and failed attempts',
    run: historyCommand,
  },
} satisfies Record<
  string,
  { description: string; run: (options: never) => Promise<CommandOutput> }
>;

export function commandFor(name: keyof typeof COMMANDS): {
  description: string;
  run: (options: AnyOptions) => Promise<CommandOutput>;
} {
  return COMMANDS[name];
}
