import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, QueryRunner } from 'typeorm';
import type { HeldLock } from './held-lock.js';
import type { AdvisoryLockKey } from './lock-key.js';

interface HeldEntry {
  readonly dataSource: DataSource;
  /** The connection holding the lock; its manager is what nested calls get. */
  readonly queryRunner: QueryRunner;
  readonly lock: HeldLock;
}

interface ActiveHold extends HeldEntry {
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

/** Runs `work` in an async context that holds `entry`'s lock; call endHold(entry) when it is over. */
export function runHoldingLock<T>(entry: HeldEntry, work: () => Promise<T>): Promise<T> {
  return storage.run([...(storage.getStore() ?? []), entry as ActiveHold], work);
}

/** The hold is over: work it left running no longer finds it (see above). */
export function endHold(entry: HeldEntry): void {
  (entry as ActiveHold).ended = true;
}
