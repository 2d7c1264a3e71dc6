import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { InvalidOptionsError } from '../../src/errors/migration-lock.errors.js';
import { resolveWithLockOptions } from '../../src/lock/lock-options.js';
import { DEFAULT_OPTIONS, resolveModuleOptions } from '../../src/module/migration-lock-options.js';

describe('module options', () => {
  it('fills in the defaults of the original implementation', () => {
    expect(resolveModuleOptions({})).toEqual({
      ...DEFAULT_OPTIONS,
      dataSource: undefined,
      events: undefined,
    });
    expect(DEFAULT_OPTIONS).toEqual({
      runOnBootstrap: true,
      lockId: 'migrations',
      lockType: 'Migrations',
      timeoutMs: 300_000,
      transaction: 'all',
      applicationName: `migration-lock:${hostname()}:${process.pid}`.slice(-63),
    });
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
  ])('rejects %p with a message naming the problem', (options, message) => {
    expect(() => resolveModuleOptions(options as never)).toThrow(InvalidOptionsError);
    expect(() => resolveModuleOptions(options as never)).toThrow(message);
  });
});

describe('withLock options', () => {
  it('uses the default timeout unless given', () => {
    expect(resolveWithLockOptions(undefined, 123)).toEqual({ timeoutMs: 123, signal: undefined });
    const signal = new AbortController().signal;
    expect(resolveWithLockOptions({ timeoutMs: 0, signal }, 123)).toEqual({ timeoutMs: 0, signal });
  });

  it.each([[{ timeoutMs: -5 }], [{ signal: 'stop' }], [{ wait: true }], ['fast']])(
    'rejects %p',
    (options) => {
      expect(() => resolveWithLockOptions(options, 1)).toThrow(InvalidOptionsError);
    },
  );
});
