import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { trySessionLockSql } from '../lock/advisory-lock.sql.js';
import { advisoryLockKey, lockKeyAsOids, type AdvisoryLockKey } from '../lock/lock-key.js';
import { withOneShotClient } from '../lock/one-shot-client.js';
import { ALL_ADVISORY_LOCKS_SQL, LOCK_SESSIONS_SQL } from '../lock/lock-sessions.sql.js';

/** A session holding or waiting for an advisory lock, as pg_locks ⋈ pg_stat_activity show it. */
export interface LockSession {
  readonly pid: number;
  readonly applicationName: string;
  readonly clientAddress: string | null;
  readonly state: string | null;
  /** Holders: how long their transaction (or session) has been open. */
  readonly heldMs: number | null;
  /** Waiters in a lock statement: how long it has waited; session-mode waiters poll: null. */
  readonly waitingMs: number | null;
  readonly query: string | null;
}

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

const toSession = (row: Row): LockSession => ({
  pid: Number(row.pid),
  applicationName: String(row.application_name ?? ''),
  clientAddress: (row.client_address as string | null) ?? null,
  state: (row.state as string | null) ?? null,
  heldMs: row.granted ? Number(row.held_ms) : null,
  waitingMs: !row.granted && row.waiting_ms !== null ? Number(row.waiting_ms) : null,
  query: (row.query as string | null) ?? null,
});

/** Who holds and who waits for the lock `id/type`, read on a connection outside the pool. */
export function readLockStatus(
  dataSource: DataSource,
  id: string,
  type: string,
): Promise<LockStatus> {
  const key = advisoryLockKey(id, type);
  return withOneShotClient(dataSource, 'migration-lock:status', async (client) => {
    const { rows } = await client.query(LOCK_SESSIONS_SQL, [
      ...lockKeyAsOids(key),
      trySessionLockSql(key),
    ]);
    const holderRow = rows.find((row: Row) => row.granted);
    return {
      lock: { id, type, key },
      holder: holderRow ? toSession(holderRow) : null,
      waiters: rows.filter((row: Row) => !row.granted).map(toSession),
    };
  });
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
        ...toSession(row),
        granted: Boolean(row.granted),
        key,
        name: twoInts ? (names.get(`${classid}:${objid}`) ?? null) : null,
      };
    });
  });
}
