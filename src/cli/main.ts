#!/usr/bin/env node
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { commandFor, tenantCommandFor, type CommandOutput } from './command-table.js';
import { EXIT, exitCodeFor } from './exit-codes.js';

/*
 * `migration-lock run|show|revert|status|validate|history -d <data source file>`: TypeORM
 * migrations under the PostgreSQL advisory lock, for init containers and CI jobs; `migration-lock
 * tenants run|status`: the tenant migrations over every tenant schema. Exit codes: 0 done, 1
 * failed, lock lost, drift found (validate) or a tenant failed, 2 bad usage or configuration, 75
 * lock wait timed out or cancelled (retry).
 */
// dist/esm/cli/main.js (and build/src/cli/main.js in this repository) → the package root.
const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('migration-lock')
  .description('Run TypeORM migrations under a PostgreSQL advisory lock, and see who holds it.')
  .version(version, '-V, --version', 'print the version')
  .exitOverride()
  .configureOutput({ outputError: () => undefined });

/** The options every command takes: the data source, the lock, how long to wait, output. */
function withCommonOptions(command: Command): Command {
  return command
    .requiredOption(
      '-d, --dataSource <file>',
      'file whose default or named export is a TypeORM DataSource (as typeorm -d)',
    )
    .option('--lock-id <id>', 'lock id', 'migrations')
    .option('--lock-type <type>', 'lock type', 'Migrations')
    .option(
      '--timeout <duration>',
      'longest wait for the lock: 30s, 5m, 1h or ms; 0 waits forever (default 5m)',
    )
    .option(
      '--connect-timeout <duration>',
      'longest wait for the database to answer a new connection, when the data source sets none',
      '10s',
    )
    .addOption(
      new Option(
        '--direct-url <url>',
        'a URL that reaches PostgreSQL itself, for session-level locks when the data source goes through a pooler (prefer the environment variable: a URL on the command line shows in ps)',
      ).env('MIGRATION_LOCK_DIRECT_URL'),
    )
    .option(
      '--application-name <name>',
      'application_name of the lock connection (default migration-lock:<host>:<pid>)',
    )
    .option(
      '--history-table <table>',
      'the history table (schema.table allowed), when the app sets historyTable (default migration_lock_history)',
    )
    .option('--json', 'print one JSON object and nothing else', false)
    .exitOverride();
}

for (const name of ['run', 'show', 'revert', 'status', 'validate', 'history'] as const) {
  const command = withCommonOptions(
    program.command(name).description(commandFor(name).description),
  ).addOption(
    new Option('--transaction <mode>', 'transaction mode')
      .choices(['all', 'each', 'none'])
      .default('all'),
  );
  if (name === 'status') command.option('--all', 'list every advisory lock in the database', false);
  if (name === 'run')
    command
      .option(
        '--dry-run',
        'print the SQL each pending migration would send; take no lock, change nothing',
        false,
      )
      .addOption(
        new Option(
          '--validate <level>',
          'what drift found before the run does: warn, fail (exit 1, nothing runs) or off',
        )
          .choices(['warn', 'fail', 'off'])
          .default('warn'),
      );
  if (name === 'history')
    command.option('--limit <n>', 'at most n applied migrations and n failed attempts', '100');
  command.action(async (options) => {
    process.exitCode = await execute(name, () => commandFor(name).run(options as never), options);
  });
}

const tenants = program
  .command('tenants')
  .description(
    'migrate every tenant schema (one schema per tenant), the work shared by every process',
  )
  .exitOverride();
for (const name of ['run', 'status'] as const) {
  const command = withCommonOptions(
    tenants.command(name).description(tenantCommandFor(name).description),
  )
    .requiredOption(
      '--tenant-migrations <globs...>',
      "the tenant migrations: files or globs, as TypeORM's migrations option takes them",
    )
    .addOption(
      new Option(
        '--schemas <sql>',
        'a query whose first column lists the tenant schemas',
      ).conflicts('schemaPattern'),
    )
    .option(
      '--schema-pattern <like>',
      "the schemas whose names match a LIKE pattern, e.g. 'tenant_%'",
    )
    .option('--concurrency <n>', 'tenants migrated at once by this process', '4')
    .option('--create-schemas', 'create a listed schema that does not exist', false);
  command.action(async (options) => {
    const run = () => tenantCommandFor(name).run({ transaction: 'all', ...options });
    process.exitCode = await execute(`tenants ${name}`, run, options);
  });
}

async function execute(
  name: string,
  run: () => Promise<CommandOutput>,
  options: Record<string, unknown>,
): Promise<number> {
  const json = options.json === true;
  let output: CommandOutput;
  try {
    output = await run();
  } catch (error) {
    const code = exitCodeFor(error);
    const { message } = error as Error;
    const errorCode = (error as { code?: string }).code;
    if (json)
      console.log(JSON.stringify({ status: 'failed', code: errorCode ?? null, error: message }));
    else console.error(`migration-lock ${name}: ${message}`);
    return code;
  }
  console.log(json ? JSON.stringify(output.json) : output.text);
  return output.exitCode ?? EXIT.OK;
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end with exit code 0; help shown for a missing command ends with 1.
    const done =
      error.exitCode === 0 &&
      ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(error.code);
    const helpShown = error.code === 'commander.help';
    if (!done && !helpShown)
      console.error(
        `migration-lock: ${error.message.replace(/^error: /, '')}\nSee migration-lock --help.`,
      );
    process.exitCode = done ? EXIT.OK : EXIT.USAGE;
  } else {
    console.error(`migration-lock: ${(error as Error).message}`);
    process.exitCode = exitCodeFor(error);
  }
}
// Open handles (a pool being closed, a timer) must not keep a finished command alive.
process.exit(process.exitCode ?? EXIT.OK);
