import { DataSource, type MigrationInterface } from 'typeorm';
import { captureUp, normalizeStatement } from '../../src/history/migration-checksum.js';
import {
  BUILDS,
  compiledMigration,
  compiledMigrationsDir,
  type Build,
} from '../support/compiled-migration.js';

/*
 * The checksum rule: taken from the statements up() sends, so that recompiling the same source
 * (another TypeScript target, module format, a minifier, a formatter) changes nothing, and an
 * edited statement changes it. No database: the capture sends nothing.
 */
const SOURCE = `
import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

export class AddOrders1700000000001 implements MigrationInterface {
  name = 'AddOrders1700000000001';
  private readonly table = 'orders';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(\`CREATE TABLE "\${this.table}" (
      id serial PRIMARY KEY,
      total numeric NOT NULL DEFAULT 0
    )\`);
    for (const status of ['new', 'paid']) {
      await queryRunner.query('INSERT INTO order_status (name) VALUES ($1)', [status]);
    }
    await queryRunner.createTable(
      new Table({ name: 'order_notes', columns: [{ name: 'id', type: 'int', isPrimary: true }, { name: 'note', type: 'text' }] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE orders');
  }
}
`;

describe('migration checksum', () => {
  const { dir, remove } = compiledMigrationsDir();
  // Never initialized: the capture must not need a connection.
  const dataSource = new DataSource({ type: 'postgres' });
  afterAll(remove);

  /** `source` compiled as `build` describes, loaded, its migration made. */
  async function compiled(
    source: string,
    build: Build,
    label: string,
  ): Promise<MigrationInterface> {
    const Migration = await compiledMigration(dir, source, build, label, 'AddOrders1700000000001');
    return new Migration();
  }

  it('is the same for every build of the same source, and names each statement it sent', async () => {
    const captures = [];
    for (const build of BUILDS)
      captures.push(await captureUp(dataSource, await compiled(SOURCE, build, 'same')));
    for (const capture of captures) expect(capture).toEqual(captures[0]);
    const [first] = captures;
    if (!first.verifiable) throw new Error(first.reason);
    expect(first.statements[0]).toBe(
      'CREATE TABLE "orders" ( id serial PRIMARY KEY, total numeric NOT NULL DEFAULT 0 )',
    );
    expect(first.statements).toContain('INSERT INTO order_status (name) VALUES ($1) -- ["paid"]');
    expect(first.statements.at(-1)).toMatch(/^CREATE TABLE "order_notes"/);
  });

  it('changes when a statement changes: a string, a parameter, the schema builder', async () => {
    const base = await captureUp(dataSource, await compiled(SOURCE, BUILDS[1], 'base'));
    for (const [label, edited] of [
      ['string', SOURCE.replace('DEFAULT 0', 'DEFAULT 1')],
      ['parameter', SOURCE.replace("'paid'", "'settled'")],
      ['builder', SOURCE.replace("type: 'text'", "type: 'varchar'")],
    ]) {
      const capture = await captureUp(dataSource, await compiled(edited, BUILDS[1], label));
      expect(capture.verifiable && base.verifiable && capture.checksum !== base.checksum).toBe(
        true,
      );
    }
  });

  it('is the same on TypeORM 0.3 as on 1.x (raw statements and the schema builder alike)', async () => {
    const { DataSource: DataSource03 } = (await import('typeorm-0.3')) as unknown as {
      DataSource: typeof DataSource;
    };
    const on03 = SOURCE.replace("from 'typeorm'", "from 'typeorm-0.3'");
    const [one, zeroThree] = [
      await captureUp(dataSource, await compiled(SOURCE, BUILDS[1], 'v1')),
      await captureUp(
        new DataSource03({ type: 'postgres' }),
        await compiled(on03, BUILDS[1], 'v03'),
      ),
    ];
    expect(zeroThree).toEqual(one);
  });

  it('does not change with whitespace inside a statement (a formatter)', async () => {
    const reformatted = SOURCE.replace(
      'id serial PRIMARY KEY,\n',
      'id   serial\n        PRIMARY KEY,\n',
    );
    const [a, b] = [
      await captureUp(dataSource, await compiled(SOURCE, BUILDS[1], 'fmt-a')),
      await captureUp(dataSource, await compiled(reformatted, BUILDS[1], 'fmt-b')),
    ];
    expect(a.verifiable && b.verifiable && a.checksum === b.checksum).toBe(true);
  });

  it('calls a migration that needs rows to go on unverifiable, instead of failing', async () => {
    const reads = SOURCE.replace(
      "    for (const status of ['new', 'paid']) {",
      "    const [{ count }] = await queryRunner.query('SELECT count(*) FROM orders');\n    for (const status of [String(count)]) {",
    );
    const capture = await captureUp(dataSource, await compiled(reads, BUILDS[1], 'reads'));
    expect(capture).toEqual({
      verifiable: false,
      reason: expect.any(String),
      sent: [expect.anything(), { sql: 'SELECT count(*) FROM orders' }],
    });
  });

  it('normalizes whitespace and trailing semicolons, and keeps the parameters', () => {
    expect(normalizeStatement('  SELECT\n\t1 ;')).toBe('SELECT 1');
    expect(normalizeStatement('SELECT $1;', [42])).toBe('SELECT $1 -- [42]');
  });
});
