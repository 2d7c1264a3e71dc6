import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('the built package entry', () => {
  it('exports the public API from `nestjs-migration-lock` (package.json exports["."])', async () => {
    const script = `import * as api from 'nestjs-migration-lock';
      const key = api.advisoryLockKey('migrations', 'Migrations');
      console.log(JSON.stringify({ names: Object.keys(api).sort(), key, code: api.LockTimeoutError.code }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script]);
    const { names, key, code } = JSON.parse(stdout) as {
      names: string[];
      key: number[];
      code: string;
    };
    expect(names).toEqual(
      expect.arrayContaining([
        'AdvisoryLockService',
        'DataSourceConfigError',
        'InvalidLockArgumentError',
        'InvalidOptionsError',
        'LockAbortedError',
        'LockLostError',
        'LockTimeoutError',
        'MigrationDriftError',
        'MigrationFailedError',
        'MigrationLockError',
        'MigrationLockModule',
        'MigrationRunnerService',
        'TransactionRolledBackError',
        'advisoryLockKey',
      ]),
    );
    expect(key).toEqual([457026696, -1494325336]);
    expect(code).toBe('LOCK_TIMEOUT');
  });

  it('loads nothing of @opentelemetry/api when imported, though it is installed here (CommonJS build, require.cache)', async () => {
    const script = `require('reflect-metadata');
      const api = require('nestjs-migration-lock');
      require('nestjs-migration-lock/testing');
      const loaded = Object.keys(require.cache).filter((path) => path.includes('@opentelemetry'));
      console.log(JSON.stringify({ loaded, module: typeof api.MigrationLockModule }));`;
    const { stdout } = await run(process.execPath, ['-e', script]);
    expect(JSON.parse(stdout)).toEqual({ loaded: [], module: 'function' });
    // The check can fail: the API is there to be loaded.
    const { stdout: found } = await run(process.execPath, [
      '-e',
      "require('@opentelemetry/api'); console.log(Object.keys(require.cache).some((p) => p.includes('@opentelemetry')))",
    ]);
    expect(found.trim()).toBe('true');
  });
});
