import { InvalidOptionsError } from '../errors/migration-lock.errors.js';
import { messages } from '../errors/migration-lock.messages.js';
import {
  checkKnownKeys,
  checkNonEmptyString,
  namedDataSource,
  checkOneOf,
  checkOptionsObject,
  checkTimeoutMs,
} from '../errors/option-checks.js';
import { advisoryLockKey, describeLock } from '../lock/lock-key.js';

/** What `@WithAdvisoryLock` jobs tell a listener (the module option `events`): every method is optional. */
export interface LockedJobEvents {
  /** A job got its lock (and its period, with `oncePer`) and starts. */
  jobStarted?(event: { job: string }): void;
  /** A job did not run: another replica holds its lock (`held`), or ran it this period (`ranThisPeriod`). */
  jobSkipped?(event: { job: string; reason: 'held' | 'ranThisPeriod' }): void;
  /** A job ran and its transaction committed; `durationMs` from start to commit. */
  jobFinished?(event: { job: string; durationMs: number }): void;
  /** A job threw, or its lock failed: nothing it wrote (nor its `oncePer` record) committed. */
  jobFailed?(event: { job: string; error: Error; durationMs: number }): void;
}

/** Options of `@WithAdvisoryLock(id, options)`. */
export interface WithAdvisoryLockOptions {
  /** The lock's type; with `id`, the key (the same derivation as withLock). @default 'Jobs' */
  type?: string;
  /**
   * When another replica holds the lock: `skip` returns undefined at once (no wait, no error);
   * `wait` waits in line like withLock, at most `timeoutMs`.
   * @default 'skip'
   */
  onHeld?: 'skip' | 'wait';
  /** With `onHeld: 'wait'`: the longest wait, in ms (0: forever). @default the module's timeoutMs */
  timeoutMs?: number;
  /**
   * At most one successful run per period across all replicas: a period in ms, or a calendar
   * `minute`, `hour` or `day` (UTC, by the database server's clock). The run is recorded in the
   * job's own transaction; a run that throws records nothing.
   */
  oncePer?: number | 'minute' | 'hour' | 'day';
  /** The DataSource whose MigrationLockModule registration runs the job. @default the default DataSource */
  dataSourceName?: string;
}

/** A decorated method, checked once when its class is defined. */
export interface LockedJob {
  readonly id: string;
  readonly type: string;
  /** `"id/type" (k1, k2)`, for events and messages. */
  readonly name: string;
  /** `Class.method`, for messages. */
  readonly method: string;
  readonly onHeld: 'skip' | 'wait';
  readonly timeoutMs: number | undefined;
  readonly periodMs: number | undefined;
  readonly dataSourceName: string | undefined;
}

const WHERE = '@WithAdvisoryLock';
const KNOWN = ['type', 'onHeld', 'timeoutMs', 'oncePer', 'dataSourceName'];
const CALENDAR_PERIOD_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** Below 2^53: a period the server computes with in float8 without losing whole ms. */
const MAX_PERIOD_MS = Number.MAX_SAFE_INTEGER;

/** Checks the decorator's arguments when the class is defined, before any SQL can run. */
export function lockedJob(id: string, options: unknown, method: string): LockedJob {
  const given = checkOptionsObject(WHERE, options);
  checkKnownKeys(WHERE, given, KNOWN);
  const type = given.type === undefined ? 'Jobs' : (given.type as string);
  const key = advisoryLockKey(id, type);
  const onHeld =
    given.onHeld === undefined
      ? 'skip'
      : checkOneOf(WHERE, 'onHeld', given.onHeld, ['skip', 'wait']);
  if (given.timeoutMs !== undefined && onHeld !== 'wait') {
    throw new InvalidOptionsError(messages.timeoutWithoutWait(WHERE));
  }
  return {
    id,
    type,
    name: describeLock(id, type, key),
    method,
    onHeld,
    timeoutMs:
      given.timeoutMs === undefined
        ? undefined
        : checkTimeoutMs(WHERE, 'timeoutMs', given.timeoutMs),
    periodMs: given.oncePer === undefined ? undefined : periodMs(given.oncePer),
    dataSourceName: namedDataSource(
      given.dataSourceName === undefined
        ? undefined
        : checkNonEmptyString(WHERE, 'dataSourceName', given.dataSourceName),
    ),
  };
}

function periodMs(value: unknown): number {
  if (typeof value === 'string' && Object.hasOwn(CALENDAR_PERIOD_MS, value)) {
    return CALENDAR_PERIOD_MS[value as keyof typeof CALENDAR_PERIOD_MS];
  }
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= 1 &&
    value <= MAX_PERIOD_MS
  ) {
    return value;
  }
  throw new InvalidOptionsError(
    messages.invalidOption(
      WHERE,
      'oncePer',
      "a whole number of ms ≥ 1, or 'minute', 'hour' or 'day'",
      value,
    ),
  );
}
