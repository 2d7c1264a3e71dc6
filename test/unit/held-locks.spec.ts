import { jest } from '@jest/globals';
import type { DataSource, QueryRunner } from 'typeorm';
import type { HeldLock } from '../../src/lock/advisory-lock.interfaces.js';
import {
  endHold,
  findHeldLock,
  runHoldingLock,
  trackingHeldLocks,
} from '../../src/lock/held-locks.js';

/** The context tracking behind nested withLock calls, and its switch-off when no lock is held. */
describe('tracking of locks held by async contexts', () => {
  const dataSource = {} as DataSource;
  const key = [1, 2] as const;
  const hold = () => ({
    dataSource,
    queryRunner: {} as QueryRunner,
    lock: { key } as unknown as HeldLock,
  });

  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  it('switches off after a quiet minute and back on with the next hold, which nests as before', async () => {
    const first = hold();
    await runHoldingLock(first, async () => {
      expect(findHeldLock(dataSource, key)).toBe(first);
    });
    endHold(first);
    jest.advanceTimersByTime(59_999);
    expect(trackingHeldLocks()).toBe(true);
    jest.advanceTimersByTime(1);
    expect(trackingHeldLocks()).toBe(false);

    const second = hold();
    await runHoldingLock(second, async () => {
      expect(trackingHeldLocks()).toBe(true);
      expect(findHeldLock(dataSource, key)).toBe(second);
    });
    expect(findHeldLock(dataSource, key)).toBeUndefined();
    endHold(second);
    jest.advanceTimersByTime(60_000);
    expect(trackingHeldLocks()).toBe(false);
  });

  it('stays on while any hold runs, however long; ending a hold twice counts once', async () => {
    const long = hold();
    let finishLong!: () => void;
    const longRunning = runHoldingLock(long, () => new Promise<void>((r) => (finishLong = r)));
    const short = hold();
    await runHoldingLock(short, async () => undefined);
    endHold(short);
    endHold(short);
    jest.advanceTimersByTime(10 * 60_000);
    expect(trackingHeldLocks()).toBe(true);

    finishLong();
    await longRunning;
    endHold(long);
    jest.advanceTimersByTime(60_000);
    expect(trackingHeldLocks()).toBe(false);
  });
});
