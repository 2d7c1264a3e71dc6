import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ManyMigrationsMode, ManyMigrationsResult } from '../many-migrations.bench.js';

const REGISTER = fileURLToPath(new URL('./register.js', import.meta.url));
const PASS = fileURLToPath(new URL('./many-migrations-process.js', import.meta.url));

/** One mode of the many-migrations bench on TypeORM 0.3, in a child process whose `typeorm` is 0.3. */
export async function benchManyMigrationsOnTypeorm03(
  adminUrl: string,
  options: { runs: number; count: number },
  mode: ManyMigrationsMode,
): Promise<{ typeorm: string; result: ManyMigrationsResult }> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', REGISTER, PASS, adminUrl, String(options.runs), String(options.count), mode],
    { maxBuffer: 1024 * 1024 },
  );
  const pass = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as {
    typeorm: string;
    result: ManyMigrationsResult;
  };
  if (!pass.typeorm.startsWith('0.3.'))
    throw new Error(`the TypeORM 0.3 pass loaded typeorm ${pass.typeorm}`);
  return pass;
}
