import type { CommonOptions } from './cli-context.js';
import {
  revertCommand,
  runCommand,
  showCommand,
  statusCommand,
  type CommandOutput,
} from './commands.js';

export type { CommandOutput } from './commands.js';

const COMMANDS = {
  run: { description: 'apply pending migrations under the lock', run: runCommand },
  show: { description: 'list applied and pending migrations', run: showCommand },
  revert: { description: 'revert the last applied migration under the lock', run: revertCommand },
  status: { description: "show the migration lock's holder and waiters", run: statusCommand },
} satisfies Record<
  string,
  { description: string; run: (options: never) => Promise<CommandOutput> }
>;

export function commandFor(name: keyof typeof COMMANDS): {
  description: string;
  run: (options: CommonOptions & { all: boolean }) => Promise<CommandOutput>;
} {
  return COMMANDS[name];
}
