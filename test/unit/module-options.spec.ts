import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { InvalidOptionsError, LockTimeoutError } from '../../src/errors/migration-lock.errors.js';
import { describeLock } from '../../src/lock/lock-key.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { withLockRequest } from '../../src/lock/lock-request.js';
import { defaultApplicationName } from '../../src/lock/lock-request.js';
import { DEFAULT_OPTIONS, resolveModuleOptions } from '../../src/module/resolve-options.js';
import { MigrationLockModule } from '../../src/module/migration-lock.module.js';

describe('module options', () => {
  it('fills in the defaults of the original implementation', () => {
    expect(resolveModuleOptions({})).toEqual({
      ...DEFAULT_OPTIONS,
      dataSource: undefined,
      events: undefined,
      applicationName: undefined,
      directUrl: undefined,
      historyTable: 'migration_lock_history',
      validate: { changed: 'warn', missing: 'warn', outOfOrder: 'warn' },
      tenants: undefined,
    });
    expect(DEFAULT_OPTIONS).toEqual({
      runOnBootstrap: true,
      lockId: 'migrations',
      lockType: 'Migrations',
      timeoutMs: 300_000,
      transaction: 'all',
      jobRunsTable: 'migration_lock_job_runs',
    });
  });

  it('checks historyTable (a table name, or false) and validate (a level, or one per finding)', () => {
    expect(resolveModuleOptions({ historyTable: 'ops.history' }).historyTable).toBe('ops.history');
    expect(resolveModuleOptions({ historyTable: false }).historyTable).toBe(false);
    for (const historyTable of ['', 'a"b', 'a.b.c', true, 42])
      expect(() => resolveModuleOptions({ historyTable } as never)).toThrow(InvalidOptionsError);
    expect(resolveModuleOptions({ validate: 'fail' }).validate).toEqual({
      changed: 'fail',
      missing: 'fail',
      outOfOrder: 'fail',
    });
    expect(
      resolveModuleOptions({ validate: { changed: 'fail', missing: 'off' } }).validate,
    ).toEqual({ changed: 'fail', missing: 'off', outOfOrder: 'warn' });
    for (const validate of ['error', { changed: 'loud' }, { unrecorded: 'fail' }, [], null])
      expect(() => resolveModuleOptions({ validate } as never)).toThrow(InvalidOptionsError);
  });

  it('checks jobRunsTable: a table name, optionally schema-qualified, nothing to quote', () => {
    expect(resolveModuleOptions({ jobRunsTable: 'ops.job_runs' }).jobRunsTable).toBe(
      'ops.job_runs',
    );
    for (const jobRunsTable of ['', 'a"b', 'a.b.c', 'drop table x', 42]) {
      expect(() => resolveModuleOptions({ jobRunsTable } as never)).toThrow(InvalidOptionsError);
    }
  });

  it("derives the lock connections' application_name from the DataSource's own, plus host and pid", () => {
    expect(defaultApplicationName()).toBe(`migration-lock:${hostname()}:${process.pid}`);
    expect(defaultApplicationName('orders-api')).toBe(`orders-api:${hostname()}:${process.pid}`);
    const long = defaultApplicationName('x'.repeat(80));
    expect(long).toHaveLength(63);
    expect(long.endsWith(`:${process.pid}`)).toBe(true);
    expect(defaultApplicationName('caf\u00e9')).toMatch(/^caf\?:/);
  });

  it('keeps valid values', () => {
    const dataSource = new DataSource({ type: 'postgres' });
    expect(
      resolveModuleOptions({
        dataSource,
        runOnBootstrap: false,
        lockId: 'x',
        lockType: 'y',
        timeoutMs: 0,
      }),
    ).toMatchObject({
      dataSource,
      runOnBootstrap: false,
      lockId: 'x',
      lockType: 'y',
      timeoutMs: 0,
    });
  });

  it.each([
    [{ timeoutMs: -1 }, /timeoutMs/],
    [{ timeoutMs: 2.5 }, /integer/],
    [{ timeoutMs: '5s' }, /timeoutMs/],
    [{ timeoutMs: 2 ** 31 }, /2147483647/],
    [{ lockId: '' }, /lockId/],
    [{ lockType: 3 }, /lockType/],
    [{ runOnBootstrap: 'yes' }, /runOnBootstrap/],
    [{ transaction: 'sometimes' }, /'all'/],
    [{ dataSource: { type: 'postgres' } }, /TypeORM DataSource/],
    [{ lockid: 'x' }, /Unknown MigrationLockModule option "lockid".*lockId/],
    [{ applicationName: '' }, /applicationName/],
    [{ applicationName: 'x'.repeat(64) }, /63/],
    [{ applicationName: 'caf\u00e9' }, /printable ASCII/],
    [{ events: 'log' }, /events/],
    [{ directUrl: 'db.internal:5432' }, /directUrl.*postgres:\/\//],
  ])('rejects %p with a message naming the problem', (options, message) => {
    expect(() => resolveModuleOptions(options as never)).toThrow(InvalidOptionsError);
    expect(() => resolveModuleOptions(options as never)).toThrow(message);
  });
});

it('never echoes a directUrl it rejects: it may hold a password', () => {
  expect(() => resolveModuleOptions({ directUrl: 'mysql://app:s3cret@db/x' })).toThrow(
    expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
  );
  expect(resolveModuleOptions({ directUrl: 'postgres://app:s3cret@db:5432/x' }).directUrl).toBe(
    'postgres://app:s3cret@db:5432/x',
  );
});

describe('MigrationLockModule.forRoot / forRootAsync', () => {
  it.each([[null], [[]], ['all'], [42]])(
    'rejects %p as options with InvalidOptionsError before Nest sees it',
    (options) => {
      expect(() => MigrationLockModule.forRoot(options as never)).toThrow(InvalidOptionsError);
      expect(() => MigrationLockModule.forRootAsync(options as never)).toThrow(InvalidOptionsError);
    },
  );

  it('rejects a bad isGlobal or dataSourceName when the module is defined', () => {
    expect(() => MigrationLockModule.forRoot({ isGlobal: 'yes' } as never)).toThrow(/isGlobal/);
    expect(() => MigrationLockModule.forRoot({ dataSourceName: '' })).toThrow(/dataSourceName/);
  });

  it('is global by default and exports under the classes; a named DataSource under its own tokens', () => {
    const plain = MigrationLockModule.forRoot();
    expect(plain.global).toBe(true);
    expect(plain.exports).toEqual(expect.arrayContaining([expect.any(Function)]));
    expect(MigrationLockModule.forRoot({ isGlobal: false }).global).toBe(false);
    const named = MigrationLockModule.forRoot({ dataSourceName: 'fleet' });
    expect(named.exports).toEqual([
      'fleetAdvisoryLockService',
      'fleetMigrationRunnerService',
      'fleetMigrationHealthIndicator',
      'fleetTenantMigrationService',
    ]);
  });
});

describe('withLock options', () => {
  const work = async () => undefined;
  const optionsOf = (options: unknown, defaultTimeoutMs: number) => {
    const { timeoutMs, signal } = withLockRequest(
      'report',
      'Jobs',
      work,
      options,
      defaultTimeoutMs,
    );
    return { timeoutMs, signal };
  };

  it('uses the default timeout unless given', () => {
    expect(optionsOf(undefined, 123)).toEqual({ timeoutMs: 123, signal: undefined });
    const signal = new AbortController().signal;
    expect(optionsOf({ timeoutMs: 0, signal }, 123)).toEqual({ timeoutMs: 0, signal });
  });

  it.each([[{ timeoutMs: -5 }], [{ signal: 'stop' }], [{ wait: true }], ['fast']])(
    'rejects %p',
    (options) => {
      expect(() => optionsOf(options, 1)).toThrow(InvalidOptionsError);
    },
  );
});

describe('messages', () => {
  it('cut a very long lock id or type (the key stays exact)', () => {
    const id = 'x'.repeat(1_000_000);
    const name = describeLock(id, 'Jobs', advisoryLockKey(id, 'Jobs'));
    expect(name.length).toBeLessThan(200);
    expect(name).toContain('(1000000 characters)');
    expect(new LockTimeoutError(name, 1000, undefined).message.length).toBeLessThan(1000);
  });
});
