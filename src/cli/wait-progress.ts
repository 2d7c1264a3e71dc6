import type { DataSource } from 'typeorm';
import type { MigrationEvents, WaitOutcome } from '../migration-runner/migration-events.js';
import { describeSession, type LockSession } from '../errors/lock-session.js';
import { describeFindings } from '../errors/migration-lock.messages.js';
import type { DriftFinding } from '../history/drift.js';
import { readLockStatus } from '../status/lock-status.js';

const TTY_TICK_MS = 1000;
const PLAIN_TICK_MS = 5000;

/**
 * Tells a waiting operator who holds the lock: a live line on a TTY, a plain line every few
 * seconds otherwise (CI logs), nothing in --json mode (the caller does not create one then).
 */
export class WaitProgress implements MigrationEvents {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private drawn = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly lock: { id: string; type: string },
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  waitStarted(): void {
    this.startedAt = performance.now();
    this.timer = setInterval(() => void this.tick(), this.out.isTTY ? TTY_TICK_MS : PLAIN_TICK_MS);
    this.timer.unref();
  }

  /** Every wait ends here (acquired, followed, timed out, aborted, lost): the live line goes. */
  waitEnded(event: { waitedMs: number; outcome: WaitOutcome }): void {
    this.stop();
    if (event.waitedMs < TTY_TICK_MS) return;
    if (event.outcome === 'acquired')
      this.out.write(`acquired the migration lock after ${seconds(event.waitedMs)} s\n`);
    if (event.outcome === 'followed')
      this.out.write(
        `the holder applied everything; followed after ${seconds(event.waitedMs)} s\n`,
      );
  }

  /** The run's validation found drift: said once, before the lock (at level fail, an error follows). */
  driftFound(event: { findings: readonly DriftFinding[] }): void {
    this.out.write(
      `the migration history does not match the code: ${describeFindings(event.findings)} (see migration-lock validate)\n`,
    );
  }

  migrationApplied(event: { name: string; durationMs: number }): void {
    this.out.write(`applied ${event.name} (${event.durationMs} ms)\n`);
  }

  failed(): void {
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn && this.out.isTTY) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  private async tick(): Promise<void> {
    const status = await readLockStatus(this.dataSource, this.lock.id, this.lock.type).catch(
      () => undefined,
    );
    if (!this.timer) return;
    const line = `waiting for migration lock ${describe(status?.holder)} for ${seconds(performance.now() - this.startedAt)} s …`;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else {
      this.out.write(`${line}\n`);
    }
  }
}

function describe(holder: LockSession | null | undefined): string {
  return holder ? `held by ${describeSession(holder)}` : '(holder not visible)';
}

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}
