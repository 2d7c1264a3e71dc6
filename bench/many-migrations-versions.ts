import {
  benchManyMigrationsMode,
  loadedTypeormVersion,
  type ManyMigrationsMode,
  type ManyMigrationsPass,
} from './many-migrations.bench.js';
import { benchManyMigrationsOnTypeorm03 } from './typeorm-0.3/on-typeorm-0.3.js';

const MODES: readonly ManyMigrationsMode[] = ['all', 'each'];

/**
 * The many-migrations bench on TypeORM 1.x (this process) and 0.3 (a child process), one mode at a
 * time for both versions. Measured here: the `each` runs (thousands of commits, hundreds of files
 * created and dropped) leave the server's file and fsync work slower for minutes afterwards (the
 * raw floor of an `all` run 320–510 ms before, 900–1150 ms after), which all landed on the 0.3 pass
 * when each version ran both modes in turn.
 */
export async function benchManyMigrationsOnBothVersions(
  adminUrl: string,
  options: { runs: number; count: number },
): Promise<{ typeorm1: ManyMigrationsPass; typeorm03: ManyMigrationsPass }> {
  const typeorm1 = { typeorm: loadedTypeormVersion() } as ManyMigrationsPass;
  const typeorm03 = {} as ManyMigrationsPass;
  for (const mode of MODES) {
    typeorm1[mode] = await benchManyMigrationsMode(adminUrl, options, mode);
    const on03 = await benchManyMigrationsOnTypeorm03(adminUrl, options, mode);
    typeorm03.typeorm = on03.typeorm;
    typeorm03[mode] = on03.result;
  }
  return { typeorm1, typeorm03 };
}
