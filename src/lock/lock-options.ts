import { hostname } from 'node:os';
import type { DataSource } from 'typeorm';
import {
  checkAbortSignal,
  checkApplicationName,
  checkKnownKeys,
  checkOptionsObject,
  checkTimeoutMs,
} from '../errors/option-checks.js';

/** Options of one withLock call. */
export interface WithLockOptions {
  /**
   * How long to wait for the lock, enforced by the server (`lock_timeout`); 0 waits forever.
   * @default the service's default (module option `timeoutMs`, 5 minutes)
   */
  timeoutMs?: number;
  /** Aborting while waiting cancels the server-side wait; while holding, rolls the work back. */
  signal?: AbortSignal;
}

/** Options of one tryWithLock call. */
export interface TryWithLockOptions {
  /** Aborting while holding rolls the work back. */
  signal?: AbortSignal;
}

/** Defaults an AdvisoryLockService applies to every call. */
export interface AdvisoryLockDefaults {
  /**
   * A DataSource whose connections reach PostgreSQL directly, for the session-level forms
   * (withSessionLock, withSessionLockOrWait) when the main DataSource goes through a pooler.
   * @default the main DataSource
   */
  sessionDataSource?: DataSource;
  /** @default 300000 (5 minutes, like the original Go implementation) */
  timeoutMs?: number;
  /**
   * `application_name` of the lock connections while they hold or wait for a lock.
   * @default `<the DataSource's applicationName>:<hostname>:<pid>`, or `migration-lock:<hostname>:<pid>`
   */
  applicationName?: string;
}

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

export function resolveWithLockOptions(
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
 * Checks service defaults once, at construction. `ownApplicationName`: the DataSource's
 * applicationName, which prefixes the default lock application_name.
 */
export function resolveLockDefaults(
  defaults: unknown,
  ownApplicationName?: string,
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
        ? defaultApplicationName(ownApplicationName)
        : checkApplicationName('AdvisoryLockService', given.applicationName),
  };
}

export function resolveTryWithLockOptions(options: unknown): { signal: AbortSignal | undefined } {
  const given = checkOptionsObject('tryWithLock', options);
  checkKnownKeys('tryWithLock', given, ['signal']);
  return { signal: checkAbortSignal('tryWithLock', given.signal) };
}
