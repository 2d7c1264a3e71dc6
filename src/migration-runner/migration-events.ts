import { Logger } from '@nestjs/common';
import type { MigrationRunResult } from './migration-run-result.js';

/**
 * Listener for metrics and tracing: every method is optional. Pass it as the module option
 * `events`; no metrics library is forced on anyone. A listener that throws is logged and ignored.
 */
export interface MigrationLockEvents {
  /** The replica found pending migrations and asked for the lock. */
  waitStarted?(event: { lock: string }): void;
  /**
   * Every wait that started ends here, once: `acquired` (this replica holds the lock now),
   * `followed` (the holder applied everything), `timeout`, `aborted`, `lost` or `failed`.
   */
  waitEnded?(event: { lock: string; waitedMs: number; outcome: WaitOutcome }): void;
  lockAcquired?(event: { lock: string; waitedMs: number }): void;
  migrationApplied?(event: { name: string; durationMs: number }): void;
  lockReleased?(event: { lock: string; heldMs: number }): void;
  failed?(event: { error: Error }): void;
  /** A `@WithAdvisoryLock` job got its lock (and its period, with `oncePer`) and starts. */
  jobStarted?(event: { job: string }): void;
  /** A job did not run: another replica holds its lock (`held`), or ran it this period (`ranThisPeriod`). */
  jobSkipped?(event: { job: string; reason: 'held' | 'ranThisPeriod' }): void;
  /** A job ran and its transaction committed; `durationMs` from start to commit. */
  jobFinished?(event: { job: string; durationMs: number }): void;
  /** A job threw, or its lock failed: nothing it wrote (nor its `oncePer` record) committed. */
  jobFailed?(event: { job: string; error: Error; durationMs: number }): void;
}

/** How a replica's wait for the migration lock ended (see `waitEnded`). */
export type WaitOutcome = 'acquired' | 'followed' | 'timeout' | 'aborted' | 'lost' | 'failed';

/** Where a replica's migration run is; `since` is when it got there. */
export type MigrationPhase = 'idle' | 'waiting' | 'migrating' | 'done' | 'failed';

export interface MigrationState {
  readonly phase: MigrationPhase;
  readonly since: Date;
  /** Once done: what the run did (see MigrationRunResult). */
  readonly outcome?: MigrationRunResult['outcome'];
  readonly applied: readonly string[];
  readonly waitedMs?: number;
  readonly heldMs?: number;
  /** The error message when failed. */
  readonly error?: string;
  readonly errorCode?: string;
}

type EventName = keyof MigrationLockEvents;
type EventOf<K extends EventName> = Parameters<NonNullable<MigrationLockEvents[K]>>[0];

/** Holds the state as a value the app can read, and tells the listener about every step. */
export class MigrationStateTracker {
  private readonly logger = new Logger('MigrationLock');
  private current: MigrationState = { phase: 'idle', since: new Date(), applied: [] };
  /**
   * What the running run applied so far: copied into the state when it is read, not once per
   * migration (a 2,000-migration run would copy 2 million names).
   */
  private appliedInRun: string[] = [];
  private appliedChanged = false;

  constructor(private readonly listener: MigrationLockEvents | undefined) {}

  get state(): MigrationState {
    if (this.appliedChanged) {
      this.current = { ...this.current, applied: [...this.appliedInRun] };
      this.appliedChanged = false;
    }
    return this.current;
  }

  update(
    phase: MigrationPhase,
    details: Partial<Omit<MigrationState, 'phase' | 'since'>> = {},
  ): void {
    if (phase === 'waiting') this.appliedInRun = [];
    // A list given here (the run's result) replaces what was counted migration by migration.
    if (details.applied) this.appliedChanged = false;
    this.current = { ...this.state, ...details, phase, since: new Date() };
  }

  /** One more migration applied by the running run (the phase stays `migrating`). */
  migrationApplied(name: string): void {
    this.appliedInRun.push(name);
    this.appliedChanged = true;
    this.current = { ...this.current, phase: 'migrating', since: new Date() };
  }

  emit<K extends EventName>(name: K, event: EventOf<K>): void {
    emitEvent(this.listener, name, event, this.logger);
  }
}

/** Tells `listener` about an event; a listener that throws is logged and ignored. */
export function emitEvent<K extends EventName>(
  listener: MigrationLockEvents | undefined,
  name: K,
  event: EventOf<K>,
  logger: Logger,
): void {
  const handler = listener?.[name] as ((event: EventOf<K>) => void) | undefined;
  try {
    handler?.call(listener, event);
  } catch (error) {
    logger.warn(`The ${name} listener threw, ignored: ${(error as Error).message}`);
  }
}
