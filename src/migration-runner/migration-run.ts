import type { MigrationStateTracker, WaitOutcome } from './migration-events.js';
import type { MigrationRunResult } from './migration-run-result.js';

/** What a wait that ended in an error is called in `waitEnded`, by the error's code. */
const WAIT_OUTCOME_OF: Record<string, WaitOutcome> = {
  LOCK_TIMEOUT: 'timeout',
  LOCK_ABORTED: 'aborted',
  LOCK_WAIT_CANCELED: 'aborted',
  LOCK_LOST: 'lost',
};

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

  constructor(
    private readonly tracker: MigrationStateTracker,
    private readonly lockName: string,
  ) {
    tracker.update('waiting');
    tracker.emit('waitStarted', { lock: lockName });
  }

  /** The lock was granted: the first thing the work under it does. */
  held(): void {
    this.heldSince = performance.now();
    const waitedMs = this.endWait('acquired');
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

  /** The call failed; a wait still running ends with it, named after the error. */
  failed(error: unknown): void {
    if (this.waitedMs !== undefined) return;
    const code = (error as { code?: unknown } | undefined)?.code;
    this.endWait((typeof code === 'string' && WAIT_OUTCOME_OF[code]) || 'failed');
  }

  private endWait(outcome: WaitOutcome): number {
    const waitedMs = Math.round(performance.now() - this.waitStartedAt);
    this.waitedMs = waitedMs;
    this.tracker.emit('waitEnded', { lock: this.lockName, waitedMs, outcome });
    return waitedMs;
  }
}
