import type { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { MigrationDriftError } from '../errors/migration.errors.js';
import { describeFindings } from '../errors/migration-lock.messages.js';
import { FAILING_KINDS, type DriftFinding } from '../history/drift.js';
import type { DriftLevel, DriftLevels } from '../history/history-options.js';
import type { AdvisoryLockService } from '../lock/advisory-lock.service.js';
import type { MigrationStateTracker } from './migration-events.js';
import type { MigrationHistory } from './migration-history.js';

/**
 * The history checked against the code around a run, as the option `validate` says.
 * - Where a check says `fail`, everything is checked before the lock, and drift is refused there
 *   (MigrationDriftError): nothing is applied. The read also gives the run its pending list.
 * - Where the checks only `warn`, they run after the run, off the replica's path to ready (a
 *   warning gates nothing, and a replica's start pays no capture of every applied migration): with
 *   the names that were pending when the run began, so that a migration the run applied out of
 *   order is still named.
 * Either way drift is logged once and told to `driftFound`, and migrations applied before the
 * module kept history are baselined.
 */
export class RunValidation {
  private afterRun: Promise<void> = Promise.resolve();

  constructor(
    private readonly history: MigrationHistory,
    private readonly levels: DriftLevels,
    private readonly reporting: {
      readonly logger: Pick<Logger, 'warn' | 'log' | 'debug'>;
      readonly tracker: MigrationStateTracker;
      readonly locks: AdvisoryLockService;
      readonly timeoutMs: number;
    },
  ) {}

  /** Some check is on. */
  get enabled(): boolean {
    const { changed, missing, outOfOrder } = this.levels;
    return changed !== 'off' || missing !== 'off' || outOfOrder !== 'off';
  }

  /** Some check refuses: the whole validation runs before the lock. */
  get blocking(): boolean {
    return Object.values(this.levels).includes('fail');
  }

  /**
   * Before the run, when blocking: resolves to the applied names it read (the run's pending list
   * comes from them); undefined when it runs after the run instead, or not at all.
   * @throws MigrationDriftError
   */
  async before(answerWithinMs: number): Promise<string[] | undefined> {
    if (!this.enabled || !this.blocking) return undefined;
    const state = await this.history.read(answerWithinMs);
    await this.settle(await this.history.findings(state, this.lookFor()));
    return state.applied.map((migration) => migration.name);
  }

  /** After a run whose validation did not block: `pendingAtStart` as the run first read it. */
  async after(pendingAtStart: readonly string[]): Promise<void> {
    if (!this.enabled || this.blocking) return;
    const state = await this.history.read();
    await this.settle(
      await this.history.findings(state, {
        ...this.lookFor(),
        pendingAtStart: new Set(pendingAtStart),
      }),
    );
  }

  /**
   * after() in the background, begun once the run's result is delivered (the next turn of the
   * event loop, not in the microtasks that resolve it): its outcome logged, a failure of its own
   * (the app shutting down, the database gone) logged, never thrown. `done` settles when it is over.
   */
  startAfter(pendingAtStart: readonly string[], dataSource: DataSource): void {
    if (!this.enabled || this.blocking) return;
    const { logger } = this.reporting;
    this.afterRun = new Promise((resolve) => setImmediate(resolve))
      .then(() => this.after(pendingAtStart))
      .catch((error: unknown) => {
        const message = `The migration history was not checked: ${(error as Error).message}`;
        // Destroyed right after run() (a script, a test): nothing went wrong that matters here.
        if (dataSource.isInitialized) logger.warn(message);
        else logger.debug(message);
      });
  }

  /** Settles when the validation startAfter() began is over; never rejects. */
  get done(): Promise<void> {
    return this.afterRun;
  }

  /** `changed: 'off'` runs no migration's up(): its checksum is not needed. */
  private lookFor() {
    return { checksums: this.levels.changed !== 'off' };
  }

  private async settle(findings: readonly DriftFinding[]): Promise<void> {
    const { logger, tracker, locks, timeoutMs } = this.reporting;
    const levelOf = (finding: DriftFinding): DriftLevel =>
      FAILING_KINDS.has(finding.kind) ? this.levels[finding.kind as keyof DriftLevels] : 'off';
    const drift = findings.filter((finding) => levelOf(finding) !== 'off');
    if (drift.length > 0) {
      tracker.emit('driftFound', { findings: drift });
      if (drift.some((finding) => levelOf(finding) === 'fail'))
        throw new MigrationDriftError(drift);
      logger.warn(
        `The migration history does not match the code: ${describeFindings(drift)}. See docs/history.md.`,
      );
    }
    const unverifiable = findings.filter((finding) => finding.kind === 'unverifiable');
    if (unverifiable.length > 0) logger.debug(describeFindings(unverifiable));
    const unrecorded = findings.filter((finding) => finding.kind === 'unrecorded');
    if (unrecorded.length > 0 && this.history.table) {
      const names = unrecorded.map((finding) => finding.name);
      await this.history.baseline(locks, names, timeoutMs);
      logger.log(
        `Baselined ${names.length} migration(s) applied before the history was kept: ${names.join(', ')}`,
      );
    }
  }
}
