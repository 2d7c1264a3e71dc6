import type { EntityManager } from 'typeorm';
import { NoLockHeldError } from '../errors/migration-lock.errors.js';
import type { HeldLock } from './advisory-lock.interfaces.js';
import { innermostHeldLock } from './reentrancy.js';

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
