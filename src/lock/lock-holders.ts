import type { QueryRunner } from 'typeorm';
import { LOCK_HOLDERS_SQL } from './advisory-lock.sql.js';
import type { LockHolder } from './lock-holder.js';
import { lockKeyAsOids, type AdvisoryLockKey } from './lock-key.js';

interface LockHolderRow {
  pid: number;
  application_name: string;
  client_address: string | null;
  state: string | null;
  held_ms: string | number;
}

/** The sessions that hold `key` right now, read from pg_locks ⋈ pg_stat_activity. */
export async function findLockHolders(
  queryRunner: QueryRunner,
  key: AdvisoryLockKey,
): Promise<LockHolder[]> {
  const rows = (await queryRunner.query(LOCK_HOLDERS_SQL, [
    ...lockKeyAsOids(key),
  ])) as LockHolderRow[];
  return rows.map((row) => ({
    pid: row.pid,
    applicationName: row.application_name,
    clientAddress: row.client_address,
    state: row.state,
    heldMs: Number(row.held_ms),
  }));
}
