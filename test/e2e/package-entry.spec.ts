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
});
