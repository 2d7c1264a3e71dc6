import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import { InvalidLockArgumentError } from '../errors/migration-lock.errors.js';
import {
  checkAbortSignal,
  checkApplicationName,
  checkKnownKeys,
  checkOptionsObject,
  checkTimeoutMs,
} from '../errors/option-checks.js';
import type { AdvisoryLockDefaults } from './advisory-lock.interfaces.js';
import { lockIdentity, type LockIdentity } from './lock-key.js';

/*
 * Everything checked before any SQL runs: the service's defaults (once, at construction), and each
 * call's id, type, work and options.
 */

export const DEFAULT_LOCK_TIMEOUT_MS = 300_000;

/**
 * `<prefix>:<hostname>:<pid>`, printable ASCII cut to the 63 bytes PostgreSQL keeps. The prefix is
 * the DataSource's own applicationName when it has one, so a replica stays recognisable in
 * pg_stat_activity while it holds or waits for a lock.
 */
export function defaultApplicationName(prefix = 'migration-lock'): string {
  const pid = `:${process.pid}`;
  return `${prefix}:${hostname()}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 63 - pid.length) + pid;
}

function resolveWithLockOptions(
  options: unknown,
  defaultTimeoutMs: number,
): { timeoutMs: number; signal: AbortSignal | undefined } {
  const given = checkOptionsObject('withLock', options);
  checkKnownKeys('withLock', given, ['timeoutMs', 'signal']);
  return {
    timeoutMs:
      given.timeoutMs === undefined
        ? defaultTimeoutMs
        : checkTimeoutMs('withLock', 'timeoutMs', given.timeoutMs),
    signal: checkAbortSignal('withLock', given.signal),
  };
}

/**
 * Checks service defaults once, at construction. The DataSource's own applicationName prefixes
 * the default lock application_name.
 */
export function resolveLockDefaults(
  defaults: unknown,
  dataSource: DataSource,
): Required<Omit<AdvisoryLockDefaults, 'sessionDataSource'>> &
  Pick<AdvisoryLockDefaults, 'sessionDataSource'> {
  const given = checkOptionsObject('AdvisoryLockService', defaults);
  checkKnownKeys('AdvisoryLockService', given, [
    'timeoutMs',
    'applicationName',
    'sessionDataSource',
  ]);
  return {
    sessionDataSource: given.sessionDataSource as DataSource | undefined,
    timeoutMs:
      given.timeoutMs === undefined
        ? DEFAULT_LOCK_TIMEOUT_MS
        : checkTimeoutMs('AdvisoryLockService', 'timeoutMs', given.timeoutMs),
    applicationName:
      given.applicationName === undefined
        ? defaultApplicationName(ownApplicationName(dataSource))
        : checkApplicationName('AdvisoryLockService', given.applicationName),
  };
}

function resolveTryWithLockOptions(options: unknown): { signal: AbortSignal | undefined } {
  const given = checkOptionsObject('tryWithLock', options);
  checkKnownKeys('tryWithLock', given, ['signal']);
  return { signal: checkAbortSignal('tryWithLock', given.signal) };
}

/** One call's lock, checked before any SQL runs. */
export interface LockRequest extends LockIdentity {
  readonly signal: AbortSignal | undefined;
  /** How long a wait for the lock may take (0: forever); unused by the forms that do not wait. */
  readonly timeoutMs: number;
}

/** A call's lock from its arguments and its already checked options; throws on a bad id, type or work. */
export function createLockRequest(
  id: string,
  type: string,
  fn: unknown,
  options: { timeoutMs?: number; signal: AbortSignal | undefined },
): LockRequest {
  const identity = lockIdentity(id, type);
  if (typeof fn !== 'function') throw InvalidLockArgumentError.work(fn);
  return { ...identity, signal: options.signal, timeoutMs: options.timeoutMs ?? 0 };
}

function ownApplicationName(dataSource: DataSource): string | undefined {
  const own = (dataSource.options as { applicationName?: unknown }).applicationName;
  return typeof own === 'string' && own ? own : undefined;
}

/** A withLock-style call's lock (withLock, tryWithLockOrWait, the session forms), checked. */
export function withLockRequest(
  id: string,
  type: string,
  fn: unknown,
  options: unknown,
  defaultTimeoutMs: number,
): LockRequest {
  return createLockRequest(id, type, fn, resolveWithLockOptions(options, defaultTimeoutMs));
}

/** A tryWithLock call's lock, checked (it never waits: no timeout). */
export function tryLockRequest(
  id: string,
  type: string,
  fn: unknown,
  options: unknown,
): LockRequest {
  return createLockRequest(id, type, fn, resolveTryWithLockOptions(options));
}
