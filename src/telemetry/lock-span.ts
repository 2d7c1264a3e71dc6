import {
  FAILURE_KIND,
  HELD_MS,
  HOLDER_APPLICATION_NAME,
  HOLDER_HELD_MS,
  HOLDER_PID,
  LOCK_ID,
  LOCK_KEYS,
  LOCK_TYPE,
  OUTCOME,
  WAITED_MS,
} from './attributes.js';
import { lockFailureKind } from '../errors/lock-failure-kind.js';
import type { Attributes } from './otel-api.js';
import { currentTelemetry, endSpan, type Telemetry } from './telemetry.js';

/** A lock as its span names it (the lock layer's LockIdentity, seen from below). */
export interface TracedLock {
  readonly id: string;
  readonly type: string;
  readonly key: readonly [number, number];
}

/** How a lock call ended, on its span: `failed` for an error that is none of the others. */
export type LockCallOutcome = 'held' | 'skipped' | 'timeout' | 'aborted' | 'lost' | 'failed';

/** The holder a lock timeout names (LockTimeoutError.holder), as span attributes. */
export function holderAttributes(error: unknown): Attributes {
  const holder = (
    error as { holder?: { pid: number; applicationName: string; heldMs: number | null } }
  )?.holder;
  if (!holder) return {};
  return {
    [HOLDER_PID]: holder.pid,
    [HOLDER_APPLICATION_NAME]: holder.applicationName,
    ...(holder.heldMs === null ? {} : { [HOLDER_HELD_MS]: holder.heldMs }),
  };
}

/** The attributes every span of a lock carries. */
export function lockAttributes(lock: TracedLock): Attributes {
  return { ...lockMetricAttributes(lock), [LOCK_KEYS]: [...lock.key] };
}

/** The attributes every metric of a lock carries (low cardinality: no keys). */
export function lockMetricAttributes(lock: { id: string; type: string }): Attributes {
  return { [LOCK_ID]: lock.id, [LOCK_TYPE]: lock.type };
}

/** A failure counted on the failures counter, when `error` is one. */
export function countLockFailure(telemetry: Telemetry, lock: TracedLock, error: unknown): void {
  const kind = lockFailureKind(error);
  if (kind)
    telemetry.instruments.lockFailures.add(1, {
      ...lockMetricAttributes(lock),
      [FAILURE_KIND]: kind,
    });
}

/**
 * A withLock-style call in an `advisory-lock <id>` span under the active one. `hold` takes the
 * lock; it wraps its work with the function it is given, which notes when the lock was held and
 * runs the work with the span active (spans the work starts are its children). The span says how
 * the call ended, how long it waited and held; the wait goes on the wait histogram.
 */
export async function traceLockCall<W extends (...args: never[]) => Promise<unknown>, R>(
  telemetry: Telemetry,
  lock: TracedLock,
  hold: (wrap: (work: W) => W) => Promise<R & { acquired: boolean }>,
): Promise<R & { acquired: boolean }> {
  const started = performance.now();
  let heldAt: number | undefined;
  const span = telemetry.startSpan(`advisory-lock ${lock.id}`, lockAttributes(lock));
  const wrap = (work: W) =>
    ((...args: Parameters<W>) => {
      heldAt = performance.now();
      return telemetry.withSpan(span, () => work(...args));
    }) as W;
  const end = (outcome: LockCallOutcome, error?: unknown) => {
    const ended = performance.now();
    const waitedMs = (heldAt ?? ended) - started;
    span.setAttributes({ [OUTCOME]: outcome, [WAITED_MS]: Math.round(waitedMs) });
    if (heldAt !== undefined) span.setAttribute(HELD_MS, Math.round(ended - heldAt));
    if (error !== undefined) span.setAttributes(holderAttributes(error));
    telemetry.instruments.waitDuration.record(waitedMs / 1000, {
      ...lockMetricAttributes(lock),
      [OUTCOME]: outcome,
    });
    endSpan(span, error);
  };
  try {
    const result = await hold(wrap);
    end(result.acquired ? 'held' : 'skipped');
    return result;
  } catch (error) {
    countLockFailure(telemetry, lock, error);
    end(lockFailureKind(error) ?? (heldAt === undefined ? 'failed' : 'held'), error);
    throw error;
  }
}

/** `hold(work)` in a lock call's span when OpenTelemetry is installed; as it is otherwise. */
export async function traced<W extends (...args: never[]) => Promise<unknown>, R>(
  lock: TracedLock,
  work: W,
  hold: (work: W) => Promise<R & { acquired: boolean }>,
): Promise<R & { acquired: boolean }> {
  const telemetry = await currentTelemetry();
  if (!telemetry) return hold(work);
  return traceLockCall<W, R>(telemetry, lock, (wrap) => hold(wrap(work)));
}
