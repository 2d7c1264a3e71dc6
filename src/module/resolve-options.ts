import { DataSource } from 'typeorm';
import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import {
  checkApplicationName,
  checkBoolean,
  checkKnownKeys,
  checkOptionsObject,
  checkPostgresUrl,
  checkNonEmptyString,
  checkOneOf,
  checkTableName,
  checkTimeoutMs,
} from '../errors/option-checks.js';
import { resolveHistoryTable, resolveValidate } from '../history/history-options.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../lock/lock-request.js';
import { resolveTenantsOptions } from '../tenants/tenants.options.js';
import type {
  MigrationLockModuleExtras,
  MigrationLockModuleOptions,
  MigrationTransactionMode,
  ResolvedMigrationLockOptions,
} from './interfaces/migration-lock-options.interface.js';

const WHERE = 'MigrationLockModule';
const KNOWN = [
  'dataSource',
  'runOnBootstrap',
  'lockId',
  'lockType',
  'timeoutMs',
  'transaction',
  'applicationName',
  'events',
  'directUrl',
  'jobRunsTable',
  'historyTable',
  'validate',
  'tenants',
] as const;
/** Given beside the options, they shape the module definition (see the module definition). */
const EXTRAS = ['isGlobal', 'dataSourceName'] as const;
export const TRANSACTION_MODES: readonly MigrationTransactionMode[] = ['all', 'each', 'none'];

export const DEFAULT_OPTIONS = {
  runOnBootstrap: true,
  lockId: 'migrations',
  lockType: 'Migrations',
  timeoutMs: DEFAULT_LOCK_TIMEOUT_MS,
  transaction: 'all',
  jobRunsTable: 'migration_lock_job_runs',
} as const satisfies Omit<
  ResolvedMigrationLockOptions,
  | 'dataSource'
  | 'events'
  | 'applicationName'
  | 'directUrl'
  | 'historyTable'
  | 'validate'
  | 'tenants'
>;

/** Validates module options at start-up and fills in defaults; throws InvalidOptionsError. */
export function resolveModuleOptions(
  options: MigrationLockModuleOptions | undefined,
): ResolvedMigrationLockOptions {
  const given = checkOptionsObject(WHERE, options);
  checkKnownKeys(WHERE, given, [...KNOWN, ...EXTRAS]);
  const pick = <T>(key: keyof typeof DEFAULT_OPTIONS, check: (v: unknown) => T): T =>
    given[key] === undefined ? (DEFAULT_OPTIONS[key] as T) : check(given[key]);
  if (given.dataSource !== undefined && !isDataSource(given.dataSource)) {
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
    applicationName:
      given.applicationName === undefined
        ? undefined
        : checkApplicationName(WHERE, given.applicationName),
    events: checkEvents(given.events),
    directUrl:
      given.directUrl === undefined
        ? undefined
        : checkPostgresUrl(WHERE, 'directUrl', given.directUrl),
    jobRunsTable: pick('jobRunsTable', (v) => checkTableName(WHERE, 'jobRunsTable', v)),
    historyTable: resolveHistoryTable(WHERE, given.historyTable),
    validate: resolveValidate(WHERE, given.validate),
    tenants: resolveTenantsOptions(given.tenants),
  };
}

/** Validates the extras (isGlobal, dataSourceName) of forRoot / forRootAsync, filling in defaults. */
export function resolveModuleExtras(given: MigrationLockModuleExtras): {
  isGlobal: boolean;
  dataSourceName: string | undefined;
} {
  return {
    isGlobal: given.isGlobal === undefined ? true : checkBoolean(WHERE, 'isGlobal', given.isGlobal),
    dataSourceName:
      given.dataSourceName === undefined
        ? undefined
        : checkNonEmptyString(WHERE, 'dataSourceName', given.dataSourceName),
  };
}

/** `instanceof` fails across two copies of typeorm (a CLI's and the app's), so check the shape. */
export function isDataSource(value: unknown): value is DataSource {
  return (
    value instanceof DataSource ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as DataSource).initialize === 'function' &&
      typeof (value as DataSource).createQueryRunner === 'function' &&
      typeof (value as DataSource).options === 'object')
  );
}

function checkEvents(value: unknown): MigrationLockModuleOptions['events'] {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    throw new InvalidOptionsError(
      messages.invalidOption(WHERE, 'events', 'an object with listener methods', value),
    );
  }
  return value as MigrationLockModuleOptions['events'];
}
