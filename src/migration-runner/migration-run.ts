import { lockFailureKind } from '../errors/lock-failure-kind.js';
import type { MigrationStateTracker, WaitOutcome } from './migration-events.js';
import type { MigrationRunResult } from './migration-run-result.js';
import type { RunTelemetry } from './run-telemetry.js';

/**
 * One call of run() or revert() from the moment it asks for the lock: when it waited, when it held,
 * and what the state tracker and the events listener hear of it. Every wait it starts ends with
 * `waitEnded` (acquired, followed, timeout, aborted, lost or failed), so a listener that draws the
 * wait (the CLI's live line) always learns that it is over.
 */
export class MigrationRun {
  private readonly waitStartedAt = performance.now();
  private waitedMs: number | undefined;
  private heldSince = 0;
  /** A round of the wait ended without the lock (the holder left migrations pending). */
  private waitedBefore = false;

  constructor(
    private readonly tracker: MigrationStateTracker,
    private readonly lockName: string,
    private readonly telemetry?: RunTelemetry,
  ) {
    tracker.update('waiting');
    tracker.emit('waitStarted', { lock: lockName });
  }

  /**
   * The lock was granted: the first thing the work under it does. `atOnce`: by this replica's
   * first try (the lock reports no wait), which telemetry does not count as a wait.
   */
  held(atOnce = false): void {
    this.heldSince = performance.now();
    const waitedMs = this.endWait('acquired', { atOnce: atOnce && !this.waitedBefore });
    this.tracker.update('migrating', { waitedMs });
    this.tracker.emit('lockAcquired', { lock: this.lockName, waitedMs });
  }

  /** After the lock's commit or unlock: what the holder did. */
  released(applied: string[]): MigrationRunResult {
    const heldMs = Math.round(performance.now() - this.heldSince);
    this.tracker.emit('lockReleased', { lock: this.lockName, heldMs });
    return {
      outcome: applied.length > 0 ? 'applied' : 'followed',
      applied,
      waitedMs: this.waitedMs ?? 0,
      heldMs,
    };
  }

  /** The holder was done and left nothing pending: this replica follows it. */
  followed(): MigrationRunResult {
    return { outcome: 'followed', applied: [], waitedMs: this.endWait('followed'), heldMs: 0 };
  }

  /** Applies one migration: in its span when there is telemetry. */
  applying<T>(name: string, apply: () => Promise<T>): Promise<T> {
    return this.telemetry ? this.telemetry.apply(name, apply) : apply();
  }

  /** The holder was done but left migrations pending: the wait goes on with another round. */
  waitsAgain(): void {
    this.waitedBefore = true;
  }

  /** The call failed; a wait still running ends with it, named after the error. */
  failed(error: unknown): void {
    if (this.waitedMs !== undefined) return;
    this.endWait(lockFailureKind(error) ?? 'failed', { error });
  }

  private endWait(outcome: WaitOutcome, how: { atOnce?: boolean; error?: unknown } = {}): number {
    const waitedMs = Math.round(performance.now() - this.waitStartedAt);
    this.waitedMs = waitedMs;
    this.tracker.emit('waitEnded', { lock: this.lockName, waitedMs, outcome });
    this.telemetry?.waitEnded(performance.timeOrigin + this.waitStartedAt, waitedMs, outcome, {
      atOnce: how.atOnce ?? false,
      error: how.error,
    });
    return waitedMs;
  }
}
