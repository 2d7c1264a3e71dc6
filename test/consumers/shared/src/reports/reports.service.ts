import { Injectable } from '@nestjs/common';
import { AdvisoryLockContext, AdvisoryLockService, WithAdvisoryLock } from 'nestjs-migration-lock';

/** A feature module's service: it injects AdvisoryLockService without importing MigrationLockModule. */
@Injectable()
export class ReportsService {
  constructor(private readonly locks: AdvisoryLockService) {}

  /** One replica at a time; the update commits with the lock's transaction. */
  bump(): Promise<number> {
    return this.locks.withLock('counter', 'Jobs', async (manager) => {
      const [row] = (await manager.query(
        'UPDATE counters SET value = value + 1 WHERE id = 1 RETURNING value',
      )) as [Array<{ value: number }>, number];
      return row[0].value;
    });
  }

  /**
   * A job for one replica, at most once a day, called here directly: @nestjs/schedule is not
   * installed in these apps (the decorator must not need it).
   */
  @WithAdvisoryLock('daily-bump', { oncePer: 'day' })
  async dailyBump(): Promise<number> {
    const [row] = (await AdvisoryLockContext.manager().query(
      'UPDATE counters SET value = value + 100 WHERE id = 1 RETURNING value',
    )) as [Array<{ value: number }>, number];
    return row[0].value;
  }
}
