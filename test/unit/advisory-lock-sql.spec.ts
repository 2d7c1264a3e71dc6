import {
  awaitReleaseAndCommitSql,
  beginAndTryLockSql,
  exclusiveProofSql,
  serverProbesSql,
  waitForLockSql,
} from '../../src/lock/advisory-lock.sql.js';
import {
  announceAndReleaseSql,
  announceReleaseSql,
  prepareAndTrySessionLockSql,
  releaseChannel,
  unlockAndNotifySql,
} from '../../src/lock/session-lock.sql.js';
import type { LockConnectionSettings } from '../../src/lock/advisory-lock.sql.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';

/** A lock connection's settings on PostgreSQL 14–16, with `changes` on top. */
const settingsWith = (changes: Partial<LockConnectionSettings> = {}): LockConnectionSettings => ({
  applicationName: 'r',
  postgres14: true,
  postgres17: false,
  ...changes,
});

describe('lock statements', () => {
  const key = advisoryLockKey('migrations', 'Migrations');

  it('starts the transaction, protects it and tries the two-int4 lock in one round trip', () => {
    const statements = beginAndTryLockSql(
      key,
      settingsWith({ applicationName: 'replica-1' }),
      false,
    ).split('; ');
    // Whatever default_transaction_isolation says: see the isolation-level integration test.
    expect(statements[0]).toBe('START TRANSACTION ISOLATION LEVEL READ COMMITTED');
    expect(statements).toContain("SET LOCAL application_name = 'replica-1'");
    expect(statements).toContain('SET LOCAL idle_in_transaction_session_timeout = 0');
    expect(statements).toContain("SET LOCAL client_connection_check_interval = '500ms'");
    expect(statements.at(-1)).toBe(
      'SELECT pg_catalog.pg_try_advisory_xact_lock(457026696::int4, -1494325336::int4) AS acquired',
    );
    // Nothing to undo when the lock is free: the wait's timeout is only set when there is a wait.
    expect(statements.join('; ')).not.toContain('lock_timeout');
    expect(statements.join('; ')).not.toContain('tcp_keepalives');
  });

  it('asks the server to probe the client when the connection does not have it yet', () => {
    const probes = [
      'SET SESSION tcp_keepalives_idle = 10',
      'SET SESSION tcp_keepalives_interval = 1',
      'SET SESSION tcp_keepalives_count = 10',
    ];
    expect(serverProbesSql()).toEqual(probes);
    const settings = settingsWith();
    expect(beginAndTryLockSql(key, settings, true).split('; ')).toEqual(
      expect.arrayContaining(probes),
    );
    expect(prepareAndTrySessionLockSql(key, settings).split('; ')).toEqual(
      expect.arrayContaining(probes),
    );
  });

  it("bounds the wait by timeoutMs alone (not the role's statement_timeout), and restores both once held", () => {
    const settings = settingsWith();
    expect(waitForLockSql(key, 1500, settings).split('; ')).toEqual([
      "SET LOCAL lock_timeout = '1500ms'",
      'SET LOCAL statement_timeout = 0',
      'SELECT pg_catalog.pg_advisory_xact_lock(457026696::int4, -1494325336::int4)',
      'SET LOCAL lock_timeout TO DEFAULT',
      'SET LOCAL statement_timeout TO DEFAULT',
    ]);
    expect(awaitReleaseAndCommitSql(key, 1500, settings)).not.toContain('transaction_timeout');
  });

  it('lifts transaction_timeout for the wait on PostgreSQL 17+, and restores it once held', () => {
    const settings = settingsWith({ postgres17: true });
    expect(waitForLockSql(key, 1500, settings).split('; ')).toEqual([
      "SET LOCAL lock_timeout = '1500ms'",
      'SET LOCAL statement_timeout = 0',
      'SET LOCAL transaction_timeout = 0',
      'SELECT pg_catalog.pg_advisory_xact_lock(457026696::int4, -1494325336::int4)',
      'SET LOCAL lock_timeout TO DEFAULT',
      'SET LOCAL statement_timeout TO DEFAULT',
      'SET LOCAL transaction_timeout TO DEFAULT',
    ]);
    // The follower's wait ends its transaction: nothing to restore.
    expect(awaitReleaseAndCommitSql(key, 1500, settings).split('; ')).toEqual([
      "SET LOCAL lock_timeout = '1500ms'",
      'SET LOCAL statement_timeout = 0',
      'SET LOCAL transaction_timeout = 0',
      'SELECT pg_catalog.pg_advisory_xact_lock_shared(457026696::int4, -1494325336::int4)',
      'COMMIT',
    ]);
  });

  it("sends a follower's read after the COMMIT that ends its wait, in the same round trip", () => {
    const statements = awaitReleaseAndCommitSql(key, 1500, settingsWith(), 'SELECT name FROM m');
    // After the COMMIT: its failure (no table yet) cannot undo the wait's transaction.
    expect(statements.split('; ').slice(-3)).toEqual([
      'SELECT pg_catalog.pg_advisory_xact_lock_shared(457026696::int4, -1494325336::int4)',
      'COMMIT',
      'SELECT name FROM m',
    ]);
  });

  it('prepares a session lock in one round trip: settings, LISTEN on the release channel, one try', () => {
    const statements = prepareAndTrySessionLockSql(key, settingsWith()).split('; ');
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
      'SELECT pg_catalog.pg_try_advisory_lock(457026696::int4, -1494325336::int4) AS acquired',
    );
    expect(releaseChannel(key)).toBe('migration_lock_457026696_2800641960');
    // The announcement is committed before the unlock runs (see announceReleaseSql): alone, or in
    // a transaction block of its own ahead of the unlock in the same round trip.
    const announce = "NOTIFY migration_lock_457026696_2800641960, 'announced'";
    const unlock =
      "SELECT pg_catalog.pg_advisory_unlock(457026696::int4, -1494325336::int4) AS released; NOTIFY migration_lock_457026696_2800641960, 'free'";
    expect(announceReleaseSql(key)).toBe(announce);
    expect(unlockAndNotifySql(key)).toBe(unlock);
    expect(announceAndReleaseSql(key)).toBe(`BEGIN; ${announce}; COMMIT; ${unlock}`);
  });

  it('leaves out settings PostgreSQL 13 does not have', () => {
    const sql = prepareAndTrySessionLockSql(key, settingsWith({ postgres14: false }));
    expect(sql).not.toMatch(/client_connection_check_interval|idle_session_timeout/);
  });

  it('quotes the application name as a literal', () => {
    expect(
      beginAndTryLockSql(
        key,
        settingsWith({ applicationName: "o'brien", postgres14: false }),
        false,
      ),
    ).toContain("SET LOCAL application_name = 'o''brien'");
    expect(
      beginAndTryLockSql(key, settingsWith({ applicationName: 'a\\b', postgres14: false }), false),
    ).toContain("SET LOCAL application_name = E'a\\\\b'");
    expect(() =>
      beginAndTryLockSql(
        key,
        settingsWith({ applicationName: 'caf\u00e9', postgres14: false }),
        false,
      ),
    ).toThrow(TypeError);
  });

  it('refuses anything but integers in the statement', () => {
    expect(() => waitForLockSql(key, 1.5, settingsWith({ postgres17: true }))).toThrow(TypeError);
    expect(() =>
      beginAndTryLockSql([1, Number.NaN], settingsWith({ postgres14: false }), false),
    ).toThrow(TypeError);
  });

  it('proves a lock by its own row in pg_locks, in a statement of its own (never in the try)', () => {
    const settings = settingsWith({ postgres14: false });
    const proof = exclusiveProofSql(key);
    expect(proof).toContain('FROM pg_catalog.pg_locks');
    expect(proof).toContain('pid = pg_catalog.pg_backend_pid()');
    expect(proof).toContain(
      'classid = 457026696::oid AND objid = 2800641960::oid AND objsubid = 2',
    );
    expect(proof).toContain('pg_catalog.version() AS server_version');
    expect(beginAndTryLockSql(key, settings, false)).not.toContain('pg_locks');
    expect(prepareAndTrySessionLockSql(key, settings)).not.toContain('pg_locks');
  });
});
