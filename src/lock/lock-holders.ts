import type { QueryRunner } from 'typeorm';
import { trySessionLockSql } from './advisory-lock.sql.js';
import type { LockHolder } from './lock-holder.js';
import { lockKeyAsOids, type AdvisoryLockKey } from './lock-key.js';
import { LOCK_SESSIONS_SQL } from './lock-sessions.sql.js';

interface LockSessionRow {
  pid: number;
  application_name: string;
  client_address: string | null;
  state: string | null;
  granted: boolean;
  held_ms: string | number | null;
}

/**
 * The sessions that hold `key` right now, read on `queryRunner`'s connection (the waiter's own:
 * the pool may have no other) with the same statement `migration-lock status` uses.
 */
export async function findLockHolders(
  queryRunner: QueryRunner,
  key: AdvisoryLockKey,
): Promise<LockHolder[]> {
  const rows = (await queryRunner.query(LOCK_SESSIONS_SQL, [
    ...lockKeyAsOids(key),
    trySessionLockSql(key),
  ])) as LockSessionRow[];
  return rows
    .filter((row) => row.granted)
    .map((row) => ({
      pid: row.pid,
      applicationName: row.application_name,
      clientAddress: row.client_address,
      state: row.state,
      heldMs: Number(row.held_ms),
    }));
}
