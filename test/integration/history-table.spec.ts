import type pg from 'pg';
import {
  createHistoryTableSql,
  recordFailureSql,
  recordHistorySql,
  type HistoryWriter,
} from '../../src/history/history-table.sql.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/* The history table's statements on a real PostgreSQL (the runner does not write them yet: #33). */
const WRITER: HistoryWriter = { host: 'replica-1', pid: 4242, moduleVersion: '0.1.0', mode: 'all' };

describe('the migration history table', () => {
  let db: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase('history');
    client = await connectClient(db.url, 'history-test');
    await client.query('CREATE SCHEMA ops');
  });
  afterAll(async () => {
    await client.end();
    await db.drop();
  });

  it.each(['migration_lock_history', 'ops.history'])(
    'is made once (twice is harmless) and takes applied, baseline and failed rows: %s',
    async (table) => {
      await client.query(createHistoryTableSql(table));
      await client.query(createHistoryTableSql(table));
      await client.query(
        recordHistorySql(
          table,
          'applied',
          [
            { name: 'First1700000000001', checksum: 'a'.repeat(64), durationMs: 12.4 },
            { name: "O'Brien1700000000002", checksum: null, durationMs: 3 },
          ],
          WRITER,
        ),
      );
      await client.query(
        recordHistorySql(
          table,
          'baseline',
          [{ name: 'Old1600000000000', checksum: 'b', durationMs: 0 }],
          WRITER,
        ),
      );
      await client.query(
        recordFailureSql(
          table,
          {
            name: 'Third1700000000003',
            durationMs: 5,
            code: '42P01',
            message: 'relation "x" does not exist',
          },
          WRITER,
        ),
      );
      const { rows } = await client.query(
        `SELECT name, status, checksum, duration_ms, application_name, host, pid, module_version, mode,
                error_code, error_message, applied_at IS NOT NULL AS stamped
           FROM ${table.replace(/(\w+)/g, '"$1"')} ORDER BY id`,
      );
      const by = {
        application_name: 'history-test',
        host: 'replica-1',
        pid: 4242,
        module_version: '0.1.0',
        mode: 'all',
        stamped: true,
      };
      expect(rows).toEqual([
        {
          ...by,
          name: 'First1700000000001',
          status: 'applied',
          checksum: 'a'.repeat(64),
          duration_ms: 12,
          error_code: null,
          error_message: null,
        },
        {
          ...by,
          name: "O'Brien1700000000002",
          status: 'applied',
          checksum: null,
          duration_ms: 3,
          error_code: null,
          error_message: null,
        },
        {
          ...by,
          name: 'Old1600000000000',
          status: 'baseline',
          checksum: 'b',
          duration_ms: 0,
          error_code: null,
          error_message: null,
        },
        {
          ...by,
          name: 'Third1700000000003',
          status: 'failed',
          checksum: null,
          duration_ms: 5,
          error_code: '42P01',
          error_message: 'relation "x" does not exist',
        },
      ]);
    },
  );

  it('refuses a value it cannot write before any SQL is built (a NUL, a fractional pid)', () => {
    expect(() =>
      recordFailureSql('h', { name: 'x\0', durationMs: 1, code: undefined, message: 'm' }, WRITER),
    ).toThrow(TypeError);
    expect(() =>
      recordHistorySql('h', 'applied', [{ name: 'x', checksum: null, durationMs: 1 }], {
        ...WRITER,
        pid: 1.5,
      }),
    ).toThrow(TypeError);
  });
});
