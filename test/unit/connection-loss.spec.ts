import { sqlState } from '../../src/errors/sql-state.js';
import {
  answerBoundMs,
  connectionLossIn,
  isConnectionLoss,
  MAX_TIMER_MS,
} from '../../src/connection/connection-loss.js';
import { MAX_TIMEOUT_MS } from '../../src/errors/option-checks.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('connection loss', () => {
  it.each(['57P01', '57P02', '57P03', '57P05', '25P03', '25P04', '08006'])(
    'counts SQLSTATE %s as a lost connection',
    (code) => {
      expect(isConnectionLoss(pgError(code))).toBe(true);
    },
  );

  it('reads the SQLSTATE through TypeORM QueryFailedError wrapping', () => {
    const wrapped = Object.assign(new Error('query failed'), { driverError: { code: '57P01' } });
    expect(sqlState(wrapped)).toBe('57P01');
    expect(isConnectionLoss(wrapped)).toBe(true);
  });

  it('counts a socket that closed under node-postgres', () => {
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it.each(['55P03', '57014', '23505', '42P01'])('does not count SQLSTATE %s', (code) => {
    expect(isConnectionLoss(pgError(code))).toBe(false);
  });

  it('counts any error the server sent as FATAL: the session is over', () => {
    const recoveryConflict = Object.assign(
      pgError('40001', 'terminating connection due to conflict with recovery'),
      { severity: 'FATAL' },
    );
    expect(isConnectionLoss(recoveryConflict)).toBe(true);
    const wrapped = Object.assign(new Error('query failed'), {
      driverError: { code: '40001', severity: 'FATAL' },
    });
    expect(isConnectionLoss(wrapped)).toBe(true);
  });

  it("does not read the words of an error the server sent: they may be a migration's", () => {
    const raised = Object.assign(pgError('P0001', 'connection closed by the upstream API'), {
      severity: 'ERROR',
    });
    expect(isConnectionLoss(raised)).toBe(false);
  });

  it.each([
    ['ECONNRESET', 'read ECONNRESET'],
    ['EPIPE', 'write EPIPE'],
  ])('counts the socket error %s', (code, message) => {
    expect(isConnectionLoss(pgError(code, message))).toBe(true);
  });
});

describe('the silent-server bound', () => {
  it('is the timeout plus a grace, and no bound where a timer could not wait that long', () => {
    expect(answerBoundMs(1_000)).toBe(6_000);
    expect(answerBoundMs(MAX_TIMER_MS - 5_000)).toBe(MAX_TIMER_MS);
    // Node clamps a longer delay to 1 ms: these must arm no timer at all.
    expect(answerBoundMs(MAX_TIMER_MS - 4_999)).toBe(Number.POSITIVE_INFINITY);
    expect(answerBoundMs(MAX_TIMEOUT_MS)).toBe(Number.POSITIVE_INFINITY);
    expect(answerBoundMs(0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('a lost connection wrapped by the work under the lock', () => {
  it("is found in the cause chain, in the server's words rather than the socket's close", () => {
    const terminated = Object.assign(
      pgError('57P01', 'terminating connection due to administrator command'),
      { severity: 'FATAL' },
    );
    const closed = new Error('Connection terminated unexpectedly', { cause: terminated });
    const wrapped = new Error('Migration "Gate1732500000005" failed', { cause: closed });
    expect(connectionLossIn(wrapped)).toBe(terminated);
    expect(connectionLossIn(new Error('Migration failed', { cause: closed }))).toBe(terminated);
    expect(
      connectionLossIn(
        new Error('Migration failed', { cause: pgError('57P04', 'database dropped') }),
      ),
    ).toBeDefined();
  });

  it("finds nothing in a migration's own failure", () => {
    const own = Object.assign(pgError('42P01', 'relation "x" does not exist'), {
      severity: 'ERROR',
    });
    expect(connectionLossIn(new Error('Migration failed', { cause: own }))).toBeUndefined();
  });
});
