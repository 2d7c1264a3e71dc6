import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DataSource } from 'typeorm';
import { isDataSource } from '../module/resolve-options.js';
import { CliUsageError } from './cli.errors.js';

/**
 * Loads a data source file by the rules of `typeorm migration:run -d`: every export of the file is
 * looked at (and awaited, so an exported Promise<DataSource> works), and exactly one must be a
 * TypeORM DataSource. A CommonJS file reaches import() as `{ default: module.exports }`, so the
 * properties of module.exports count as exports too: `exports.default = new DataSource(...)`, which
 * is what TypeScript makes of `export default` when it compiles to CommonJS, is found.
 * A `.ts` file needs a TypeScript loader in the Node process.
 */
export async function loadDataSource(file: string): Promise<DataSource> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliUsageError(`Data source file not found: ${file}`);
  const found = new Set<DataSource>();
  for (const value of exportsOf(await importFile(file, path))) {
    const awaited: unknown = await value;
    if (isDataSource(awaited)) found.add(awaited);
  }
  if (found.size === 0) {
    throw new CliUsageError(
      `${file} exports no TypeORM DataSource: export one, e.g. export default new DataSource({ type: 'postgres', ... }).`,
    );
  }
  if (found.size > 1) {
    throw new CliUsageError(
      `${file} exports ${found.size} TypeORM DataSources: export exactly one (as the TypeORM CLI requires).`,
    );
  }
  return [...found][0];
}

async function importFile(file: string, path: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint =
      code === 'ERR_UNKNOWN_FILE_EXTENSION'
        ? ' A .ts data source needs a TypeScript loader: compile it to .js, or run node with one (e.g. node --import tsx).'
        : '';
    throw new CliUsageError(
      `Could not load the data source file ${file}: ${(error as Error).message}.${hint}`,
      { cause: error },
    );
  }
}

/** The file's exports; for a CommonJS file also the properties of module.exports. */
function exportsOf(namespace: Record<string, unknown>): unknown[] {
  const values = Object.values(namespace);
  const moduleExports = namespace.default;
  if (typeof moduleExports === 'object' && moduleExports !== null && !isDataSource(moduleExports))
    values.push(...Object.values(moduleExports));
  return values;
}
