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
    const statements = beginAndLockSql(key, 1500, 'replica-1').split('; ');
    expect(statements[0]).toBe('START TRANSACTION');
    expect(statements[1]).toBe("SET LOCAL application_name = 'replica-1'");
    expect(statements[2]).toBe("SET LOCAL lock_timeout = '1500ms'");
    expect(statements).toContain('SET LOCAL idle_in_transaction_session_timeout = 0');
    // Set only where the server has it (14+), local to the lock transaction.
    expect(statements.find((s) => s.includes('client_connection_check_interval'))).toMatch(
      /true\) FROM pg_settings/,
    );
    expect(statements.at(-2)).toBe(
      'SELECT pg_advisory_xact_lock(457026696::int4, -1494325336::int4)',
    );
    expect(statements.at(-1)).toBe('SET LOCAL lock_timeout TO DEFAULT');
  });

  it('tries the same key without waiting', () => {
    expect(beginAndTryLockSql(key, 'r')).toContain(
      'pg_try_advisory_xact_lock(457026696::int4, -1494325336::int4)',
    );
  });

  it('prepares a session lock in one round trip: settings, LISTEN on the release channel, one try', () => {
    const statements = prepareAndTrySessionLockSql(key, 'r').split('; ');
    expect(statements[0]).toMatch(/idle_session_timeout.*idle_in_transaction_session_timeout/);
    expect(statements[1]).toBe("SET application_name = 'r'");
    expect(statements[2]).toBe(`LISTEN ${releaseChannel(key)}`);
    expect(statements[3]).toBe(
      'SELECT pg_try_advisory_lock(457026696::int4, -1494325336::int4) AS acquired',
    );
    expect(releaseChannel(key)).toBe('migration_lock_457026696_2800641960');
    expect(unlockAndNotifySql(key)).toBe(
      'SELECT pg_advisory_unlock(457026696::int4, -1494325336::int4) AS released; NOTIFY migration_lock_457026696_2800641960',
    );
  });

  it('quotes the application name as a literal', () => {
    expect(beginAndLockSql(key, 0, "o'brien")).toContain("SET LOCAL application_name = 'o''brien'");
    expect(beginAndLockSql(key, 0, 'a\\b')).toContain("SET LOCAL application_name = E'a\\\\b'");
    expect(() => beginAndLockSql(key, 0, 'caf\u00e9')).toThrow(TypeError);
  });

  it('refuses anything but integers in the statement', () => {
    expect(() => beginAndLockSql(key, 1.5, 'r')).toThrow(TypeError);
    expect(() => beginAndLockSql([1, Number.NaN], 0, 'r')).toThrow(TypeError);
  });
});
