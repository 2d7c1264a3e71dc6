import {
  beginAndLockSql,
  beginAndTryLockSql,
  prepareAndTrySessionLockSql,
  releaseChannel,
  unlockAndNotifySql,
} from '../../src/lock/advisory-lock.sql.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';

describe('lock statements', () => {
  const key = advisoryLockKey('migrations', 'Migrations');

  it('starts the transaction, bounds the wait and takes the two-int4 lock in one round trip', () => {
    const statements = beginAndLockSql(key, 1500, {
      applicationName: 'replica-1',
      postgres14: true,
    }).split('; ');
    expect(statements[0]).toBe('START TRANSACTION');
    expect(statements[1]).toBe("SET LOCAL lock_timeout = '1500ms'");
    expect(statements).toContain("SET LOCAL application_name = 'replica-1'");
    expect(statements).toContain('SET LOCAL idle_in_transaction_session_timeout = 0');
    expect(statements).toContain("SET LOCAL client_connection_check_interval = '500ms'");
    expect(statements.at(-2)).toBe(
      'SELECT pg_advisory_xact_lock(457026696::int4, -1494325336::int4)',
    );
    expect(statements.at(-1)).toBe('SET LOCAL lock_timeout TO DEFAULT');
  });

  it('tries the same key without waiting', () => {
    expect(beginAndTryLockSql(key, { applicationName: 'r', postgres14: true })).toContain(
      'pg_try_advisory_xact_lock(457026696::int4, -1494325336::int4)',
    );
  });

  it('prepares a session lock in one round trip: settings, LISTEN on the release channel, one try', () => {
    const statements = prepareAndTrySessionLockSql(key, {
      applicationName: 'r',
      postgres14: true,
    }).split('; ');
    expect(statements).toEqual(
      expect.arrayContaining([
        "SET SESSION application_name = 'r'",
        'SET SESSION idle_in_transaction_session_timeout = 0',
        'SET SESSION idle_session_timeout = 0',
        "SET SESSION client_connection_check_interval = '500ms'",
        `LISTEN ${releaseChannel(key)}`,
      ]),
    );
    expect(statements.at(-1)).toBe(
      'SELECT pg_try_advisory_lock(457026696::int4, -1494325336::int4) AS acquired',
    );
    expect(releaseChannel(key)).toBe('migration_lock_457026696_2800641960');
    expect(unlockAndNotifySql(key)).toBe(
      'SELECT pg_advisory_unlock(457026696::int4, -1494325336::int4) AS released; NOTIFY migration_lock_457026696_2800641960',
    );
  });

  it('leaves out settings PostgreSQL 13 does not have', () => {
    const sql = prepareAndTrySessionLockSql(key, { applicationName: 'r', postgres14: false });
    expect(sql).not.toMatch(/client_connection_check_interval|idle_session_timeout/);
  });

  it('quotes the application name as a literal', () => {
    expect(beginAndLockSql(key, 0, { applicationName: "o'brien", postgres14: false })).toContain(
      "SET LOCAL application_name = 'o''brien'",
    );
    expect(beginAndLockSql(key, 0, { applicationName: 'a\\b', postgres14: false })).toContain(
      "SET LOCAL application_name = E'a\\\\b'",
    );
    expect(() =>
      beginAndLockSql(key, 0, { applicationName: 'caf\u00e9', postgres14: false }),
    ).toThrow(TypeError);
  });

  it('refuses anything but integers in the statement', () => {
    expect(() => beginAndLockSql(key, 1.5, { applicationName: 'r', postgres14: false })).toThrow(
      TypeError,
    );
    expect(() =>
      beginAndLockSql([1, Number.NaN], 0, { applicationName: 'r', postgres14: false }),
    ).toThrow(TypeError);
  });
});
