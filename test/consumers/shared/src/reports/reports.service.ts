import { Injectable } from '@nestjs/common';
import { AdvisoryLockService } from 'nestjs-migration-lock';

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
}
