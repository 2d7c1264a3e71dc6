import { DataSource } from 'typeorm';
import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import {
  checkBoolean,
  checkKnownKeys,
  checkNonEmptyString,
  checkOneOf,
  checkTimeoutMs,
} from '../errors/option-checks.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../lock/lock-options.js';
import type {
  MigrationLockModuleOptions,
  MigrationTransactionMode,
  ResolvedMigrationLockOptions,
} from './migration-lock-options.interface.js';

const WHERE = 'MigrationLockModule';
const KNOWN = [
  'dataSource',
  'runOnBootstrap',
  'lockId',
  'lockType',
  'timeoutMs',
  'transaction',
] as const;
export const TRANSACTION_MODES: readonly MigrationTransactionMode[] = ['all', 'each', 'none'];

export const DEFAULT_OPTIONS = {
  runOnBootstrap: true,
  lockId: 'migrations',
  lockType: 'Migrations',
  timeoutMs: DEFAULT_LOCK_TIMEOUT_MS,
  transaction: 'all',
} as const satisfies Omit<ResolvedMigrationLockOptions, 'dataSource'>;

/** Validates module options at start-up and fills in defaults; throws InvalidOptionsError. */
export function resolveModuleOptions(
  options: MigrationLockModuleOptions | undefined,
): ResolvedMigrationLockOptions {
  const given = (options ?? {}) as Record<string, unknown>;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidOptionsError(messages.invalidOption(WHERE, 'options', 'an object', given));
  }
  checkKnownKeys(WHERE, given, [...KNOWN, 'dataSourceName']);
  const pick = <T>(key: keyof typeof DEFAULT_OPTIONS, check: (v: unknown) => T): T =>
    given[key] === undefined ? (DEFAULT_OPTIONS[key] as T) : check(given[key]);
  if (given.dataSource !== undefined && !(given.dataSource instanceof DataSource)) {
    throw new InvalidOptionsError(
      messages.invalidOption(WHERE, 'dataSource', 'a TypeORM DataSource', given.dataSource),
    );
  }
  return {
    dataSource: given.dataSource as DataSource | undefined,
    runOnBootstrap: pick('runOnBootstrap', (v) => checkBoolean(WHERE, 'runOnBootstrap', v)),
    lockId: pick('lockId', (v) => checkNonEmptyString(WHERE, 'lockId', v)),
    lockType: pick('lockType', (v) => checkNonEmptyString(WHERE, 'lockType', v)),
    timeoutMs: pick('timeoutMs', (v) => checkTimeoutMs(WHERE, 'timeoutMs', v)),
    transaction: pick('transaction', (v) => checkOneOf(WHERE, 'transaction', v, TRANSACTION_MODES)),
  };
}
