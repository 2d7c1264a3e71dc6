import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `count` tenant migrations as a schema-per-tenant app writes them: each makes one table with
 * unqualified names (they land in the tenant's schema by its search path). `statements`: what
 * they send, for the raw floor.
 */
export function tenantMigrations(count: number): Array<new () => MigrationInterface> {
  return tenantStatements(count).map((sql, i) => {
    const name = `Tenant${String(i + 1).padStart(3, '0')}${1700000000000 + i}`;
    const migration = class implements MigrationInterface {
      name = name;
      async up(queryRunner: QueryRunner): Promise<void> {
        await queryRunner.query(sql);
      }
      async down(): Promise<void> {}
    };
    Object.defineProperty(migration, 'name', { value: name });
    return migration;
  });
}

export function tenantStatements(count: number): string[] {
  return Array.from(
    { length: count },
    (_, i) => `CREATE TABLE t${i + 1} (id serial PRIMARY KEY, note text NOT NULL DEFAULT '')`,
  );
}

/** The names TypeORM would record for them, with their timestamps. */
export function tenantMigrationRows(count: number): Array<{ name: string; timestamp: number }> {
  return Array.from({ length: count }, (_, i) => ({
    name: `Tenant${String(i + 1).padStart(3, '0')}${1700000000000 + i}`,
    timestamp: 1700000000000 + i,
  }));
}
