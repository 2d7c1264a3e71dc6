import type { CommonOptions } from './cli-context.js';
import type { CommandOutput } from './command-output.js';
import { revertCommand, runCommand, showCommand, statusCommand } from './commands.js';
import { dryRunCommand, historyCommand, validateCommand } from './history-commands.js';
import {
  tenantsRunCommand,
  tenantsStatusCommand,
  type TenantCommandOptions,
} from './tenant-commands.js';

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

const TENANT_COMMANDS = {
  run: {
    description:
      'bring every tenant schema up to the tenant migrations, sharing the work with every other process (exit 1 if any failed)',
    run: tenantsRunCommand,
  },
  status: {
    description: "every tenant schema's applied and pending counts, and who migrates it now",
    run: tenantsStatusCommand,
  },
} satisfies Record<
  string,
  { description: string; run: (options: TenantCommandOptions) => Promise<CommandOutput> }
>;

export function tenantCommandFor(name: keyof typeof TENANT_COMMANDS): {
  description: string;
  run: (options: TenantCommandOptions) => Promise<CommandOutput>;
} {
  return TENANT_COMMANDS[name];
}
