import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { NoLockHeldError } from '../errors/migration-lock.errors.js';
import type { HeldLock } from './advisory-lock.interfaces.js';
import type { AdvisoryLockKey } from './lock-key.js';

interface HeldEntry {
  readonly dataSource: DataSource;
  /** The connection holding the lock; its manager is what nested calls get. */
  readonly queryRunner: QueryRunner;
  readonly lock: HeldLock;
}

interface ActiveHold extends HeldEntry {
  started?: boolean;
  /** Set when the hold is over: work it started and left running must not run "inside" it. */
  ended?: boolean;
}

/*
 * Locks held by the current async context. A nested withLock on a key the context already holds
 * (on the same DataSource, so the same database) runs inside the outer lock instead of waiting on
 * itself forever: a second connection asking for the same key would never be granted it.
 * Work started inside a hold can outlive it (a promise nobody awaited): such work keeps the async
 * context, so a hold is marked ended when it is over, and is then never run "inside" again.
 */
const storage = new AsyncLocalStorage<readonly ActiveHold[]>();

export function findHeldLock(dataSource: DataSource, key: AdvisoryLockKey): HeldEntry | undefined {
  return storage
    .getStore()
    ?.find(
      (entry) =>
        !entry.ended &&
        entry.dataSource === dataSource &&
        entry.lock.key[0] === key[0] &&
        entry.lock.key[1] === key[1],
    );
}

/*
 * On Node 20, an AsyncLocalStorage in use turns on promise hooks for the whole process: every
 * `await` in the application then costs more (docs/benchmarks.md). A migration lock is held for a
 * moment at start-up and the service runs for days, so the context tracking is switched off once
 * no lock has been held for a minute, and back on by the next hold. Not sooner: turning the hooks
 * back on makes V8 drop optimized code, which a busy withLock caller pays for.
 */
const QUIET_MS = 60_000;

/*
 * The first run() of an AsyncLocalStorage in a process is its most expensive (the async hooks are
 * loaded and set up). Paid here, when the library loads, rather than between a lock's grant and
 * its work, where a migration holder's waiting replicas wait on it. Off again at once, as after a
 * quiet period.
 */
storage.run([], () => undefined);
storage.disable();
let holdsRunning = 0;
let quietCheck: NodeJS.Timeout | undefined;

/** Whether locks held by async contexts are being tracked (off after a quiet period, see above). */
export function trackingHeldLocks(): boolean {
  // Tracking stops only in stopTrackingIfQuiet(), with no hold running and no check pending.
  return holdsRunning > 0 || quietCheck !== undefined;
}

/** Runs `work` in an async context that holds `entry`'s lock; call endHold(entry) when it is over. */
export function runHoldingLock<T>(entry: HeldEntry, work: () => Promise<T>): Promise<T> {
  (entry as ActiveHold).started = true;
  holdsRunning++;
  return storage.run([...(storage.getStore() ?? []), entry as ActiveHold], work);
}

/** The hold is over: work it left running no longer finds it (see above). */
export function endHold(entry: HeldEntry): void {
  const hold = entry as ActiveHold;
  if (hold.ended) return;
  hold.ended = true;
  if (!hold.started || --holdsRunning > 0 || quietCheck) return;
  quietCheck = setTimeout(stopTrackingIfQuiet, QUIET_MS);
  quietCheck.unref();
}

function stopTrackingIfQuiet(): void {
  quietCheck = undefined;
  // Contexts of ended holds are left behind either way; new holds turn the tracking back on.
  if (holdsRunning > 0) return;
  storage.disable();
}

/** The innermost lock the current async context holds, if any (what AdvisoryLockContext reads). */
export function innermostHeldLock(): HeldEntry | undefined {
  const holds = storage.getStore();
  if (!holds) return undefined;
  for (let i = holds.length - 1; i >= 0; i--) if (!holds[i].ended) return holds[i];
  return undefined;
}

/**
 * What the code running under a lock can reach without being handed it: a `@WithAdvisoryLock`
 * method (called by @nestjs/schedule, with no arguments of ours) gets the lock's EntityManager here.
 * Backed by the lock's async context, so it is the innermost lock held by this call chain.
 */
export class AdvisoryLockContext {
  private constructor() {}

  /**
   * The EntityManager bound to the lock's connection: in the transaction forms (withLock,
   * tryWithLock, @WithAdvisoryLock) inside the lock's transaction, so what it writes commits or
   * rolls back with the lock (and with the `oncePer` record).
   * @throws NoLockHeldError outside any lock
   */
  static manager(): EntityManager {
    const held = innermostHeldLock();
    if (!held) throw new NoLockHeldError();
    return held.queryRunner.manager;
  }

  /** The innermost lock this async context holds, or undefined outside any lock. */
  static lock(): HeldLock | undefined {
    return innermostHeldLock()?.lock;
  }
}
