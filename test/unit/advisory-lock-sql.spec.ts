import { beginAndLockSql, beginAndTryLockSql } from '../../src/lock/advisory-lock.sql.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';

describe('lock statements', () => {
  const key = advisoryLockKey('migrations', 'Migrations');

  it('starts the transaction, bounds the wait and takes the two-int4 lock in one round trip', () => {
    expect(beginAndLockSql(key, 1500).split('; ')).toEqual([
      'START TRANSACTION',
      "SET LOCAL lock_timeout = '1500ms'",
      'SET LOCAL idle_in_transaction_session_timeout = 0',
      'SELECT pg_advisory_xact_lock(457026696::int4, -1494325336::int4)',
      'SET LOCAL lock_timeout TO DEFAULT',
    ]);
  });

  it('tries the same key without waiting', () => {
    expect(beginAndTryLockSql(key)).toContain(
      'pg_try_advisory_xact_lock(457026696::int4, -1494325336::int4)',
    );
  });

  it('refuses anything but integers in the statement', () => {
    expect(() => beginAndLockSql(key, 1.5)).toThrow(TypeError);
    expect(() => beginAndLockSql([1, Number.NaN], 0)).toThrow(TypeError);
  });
});
