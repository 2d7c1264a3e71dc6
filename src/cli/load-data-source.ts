import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DataSource } from 'typeorm';
import { isDataSource } from '../module/migration-lock-options.js';
import { CliUsageError } from './cli.errors.js';

/**
 * Loads a data source file the way `typeorm migration:run -d` does: its default export or any named
 * export that is a TypeORM DataSource. A `.ts` file needs a TypeScript loader in the Node process.
 */
export async function loadDataSource(file: string): Promise<DataSource> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliUsageError(`Data source file not found: ${file}`);
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: string }).code;
    const hint =
      code === 'ERR_UNKNOWN_FILE_EXTENSION'
        ? ' A .ts data source needs a TypeScript loader: compile it to .js, or run node with one (e.g. node --import tsx).'
        : '';
    throw new CliUsageError(
      `Could not load the data source file ${file}: ${(error as Error).message}.${hint}`,
      {
        cause: error,
      },
    );
  }
  const candidates = [loaded.default, ...Object.values(loaded)];
  const dataSource = candidates.find(isDataSource);
  if (!dataSource) {
    throw new CliUsageError(
      `${file} exports no TypeORM DataSource: export one, e.g. export default new DataSource({ type: 'postgres', ... }).`,
    );
  }
  return dataSource;
}
