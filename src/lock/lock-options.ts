import { hostname } from 'node:os';
import {
  checkAbortSignal,
  checkApplicationName,
  checkKnownKeys,
  checkTimeoutMs,
} from '../errors/option-checks.js';
import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';

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
  /** @default 300000 (5 minutes, like the original Go implementation) */
  timeoutMs?: number;
  /**
   * `application_name` of the lock connections while they hold or wait for a lock.
   * @default `migration-lock:<hostname>:<pid>`
   */
  applicationName?: string;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 300_000;

/** `migration-lock:<hostname>:<pid>`, cut to the 63 bytes PostgreSQL keeps. */
export function defaultApplicationName(): string {
  const pid = `:${process.pid}`;
  return (
    `migration-lock:${hostname().replace(/[^\x20-\x7e]/g, '?')}`.slice(0, 63 - pid.length) + pid
  );
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

/** Checks service defaults once, at construction. */
export function resolveLockDefaults(defaults: unknown): Required<AdvisoryLockDefaults> {
  const given = checkOptionsObject('AdvisoryLockService', defaults);
  checkKnownKeys('AdvisoryLockService', given, ['timeoutMs', 'applicationName']);
  return {
    timeoutMs:
      given.timeoutMs === undefined
        ? DEFAULT_LOCK_TIMEOUT_MS
        : checkTimeoutMs('AdvisoryLockService', 'timeoutMs', given.timeoutMs),
    applicationName:
      given.applicationName === undefined
        ? defaultApplicationName()
        : checkApplicationName('AdvisoryLockService', given.applicationName),
  };
}

export function resolveTryWithLockOptions(options: unknown): { signal: AbortSignal | undefined } {
  const given = checkOptionsObject('tryWithLock', options);
  checkKnownKeys('tryWithLock', given, ['signal']);
  return { signal: checkAbortSignal('tryWithLock', given.signal) };
}

function checkOptionsObject(where: string, options: unknown): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionsError(messages.invalidOption(where, 'options', 'an object', options));
  }
  return options as Record<string, unknown>;
}
