import { Logger } from '@nestjs/common';
import type { TenantFailure } from '../errors/migration.errors.js';
import type { DriftFinding } from '../history/drift.js';
import type { MigrationRunResult } from './migration-run-result.js';

/**
 * What a migration run tells a listener (the module option `events`, with the jobs' events): every
 * method is optional. A listener that throws is logged and ignored.
 */
export interface MigrationEvents {
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
  /**
   * Validation before a run found `changed`, `missing` or `outOfOrder` migrations (those whose
   * level is not `off`): once per run, before the lock, with every finding.
   */
  driftFound?(event: { findings: readonly DriftFinding[] }): void;
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
  /** With the module option `tenants`: what this replica's last tenant run ended with. */
  readonly tenants?: TenantsState;
}

/** A finished tenant run, as the state shows it (the failed tenants with their errors). */
export interface TenantsState {
  readonly total: number;
  readonly migrated: number;
  readonly current: number;
  readonly failed: readonly TenantFailure[];
  readonly durationMs: number;
}

/** The event a listener method of `L` takes. */
export type EventOf<L, K extends keyof L> = L[K] extends ((event: infer E) => void) | undefined
  ? E
  : never;

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

  constructor(private readonly listener: MigrationEvents | undefined) {}

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

  /** A tenant run ended: kept beside the shared run's state, whose phase it does not change. */
  tenantsDone(tenants: TenantsState): void {
    this.current = { ...this.state, tenants };
  }

  /** One more migration applied by the running run (the phase stays `migrating`). */
  migrationApplied(name: string): void {
    this.appliedInRun.push(name);
    this.appliedChanged = true;
    this.current = { ...this.current, phase: 'migrating', since: new Date() };
  }

  emit<K extends keyof MigrationEvents>(name: K, event: EventOf<MigrationEvents, K>): void {
    emitEvent(this.listener, name, event, this.logger);
  }
}

/** Tells `listener` about an event; a listener that throws is logged and ignored. */
export function emitEvent<L extends object, K extends keyof L & string>(
  listener: L | undefined,
  name: K,
  event: EventOf<L, K>,
  logger: Logger,
): void {
  const handler = listener?.[name] as ((event: EventOf<L, K>) => void) | undefined;
  try {
    handler?.call(listener, event);
  } catch (error) {
    logger.warn(`The ${name} listener threw, ignored: ${(error as Error).message}`);
  }
}
