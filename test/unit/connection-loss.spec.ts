import { sqlState } from '../../src/errors/sql-state.js';
import { isConnectionLoss } from '../../src/lock/lock-connection.js';

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
});
