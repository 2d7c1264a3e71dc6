import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { LockSession } from '../errors/lock-session.js';
import { advisoryLockKey, lockKeyAsOids, type AdvisoryLockKey } from '../lock/lock-key.js';
import { ALL_ADVISORY_LOCKS_SQL, readLockSessions, toLockSession } from '../lock/holder-query.js';
import { withOneShotClient } from './one-shot-client.js';

export type { LockSession };

export interface LockStatus {
  readonly lock: { readonly id: string; readonly type: string; readonly key: AdvisoryLockKey };
  readonly holder: LockSession | null;
  readonly waiters: readonly LockSession[];
}

export interface AdvisoryLockEntry extends LockSession {
  /** `id/type` when the key is a known lock name, else null. */
  readonly name: string | null;
  /** The key as the lock functions take it: two int4, or one int8 (as a string). */
  readonly key: readonly number[] | string;
  readonly granted: boolean;
}

type Row = Record<string, unknown>;

/** Who holds and who waits for the lock `id/type`, read on a connection outside the pool. */
export function readLockStatus(
  dataSource: DataSource,
  id: string,
  type: string,
): Promise<LockStatus> {
  const key = advisoryLockKey(id, type);
  return withOneShotClient(dataSource, 'migration-lock:status', async (client) => ({
    lock: { id, type, key },
    ...(await readLockSessions(
      async (sql, params) => (await client.query(sql, params)).rows as Row[],
      key,
    )),
  }));
}

/** Every advisory lock in the database, naming keys that match `knownLocks` ([id, type] pairs). */
export function readAllAdvisoryLocks(
  dataSource: DataSource,
  knownLocks: ReadonlyArray<readonly [string, string]>,
): Promise<AdvisoryLockEntry[]> {
  const names = new Map(
    knownLocks.map(([id, type]) => [
      lockKeyAsOids(advisoryLockKey(id, type)).join(':'),
      `${id}/${type}`,
    ]),
  );
  return withOneShotClient(dataSource, 'migration-lock:status', async (client: pg.Client) => {
    const { rows } = await client.query(ALL_ADVISORY_LOCKS_SQL);
    return rows.map((row: Row) => {
      const [classid, objid, twoInts] = [
        Number(row.classid),
        Number(row.objid),
        Number(row.objsubid) === 2,
      ];
      const key = twoInts
        ? [classid | 0, objid | 0]
        : String(BigInt.asIntN(64, (BigInt(classid) << 32n) | BigInt(objid)));
      return {
        ...toLockSession(row),
        granted: Boolean(row.granted),
        key,
        name: twoInts ? (names.get(`${classid}:${objid}`) ?? null) : null,
      };
    });
  });
}
