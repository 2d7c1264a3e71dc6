import { InvalidTenantSchemaError } from '../../src/errors/migration.errors.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { tenantLockKey } from '../../src/tenants/tenant-lock-key.js';
import { checkTenantSchema, schemaIdentifier } from '../../src/tenants/tenant-schema.js';

/* Per-tenant lock keys (the vectors docs/tenants.md gives) and the schema names allowed. */
describe('tenant lock keys', () => {
  // Vectors computed by an independent FNV-1a (Python, over the UTF-8 bytes), as docs/tenants.md gives them.
  it('is (fnv1a32(id + "." + schema), fnv1a32(type + ".tenant")): the documented vectors', () => {
    expect(tenantLockKey('migrations', 'Migrations', 'tenant_1')).toEqual(
      advisoryLockKey('migrations.tenant_1', 'Migrations.tenant'),
    );
    expect(tenantLockKey('migrations', 'Migrations', 'tenant_1')).toEqual([2051887178, 1891650010]);
    expect(tenantLockKey('migrations', 'Migrations', 'Acme_42')).toEqual([571535495, 1891650010]);
    expect(tenantLockKey('billing', 'Jobs', 'tenant_1')).toEqual([399953758, -216136063]);
  });

  it('never equals the shared migration lock, and tells tenants apart', () => {
    const shared = advisoryLockKey('migrations', 'Migrations');
    const keys = Array.from({ length: 1000 }, (_, i) =>
      tenantLockKey('migrations', 'Migrations', `tenant_${i}`).join(','),
    );
    expect(keys).not.toContain(shared.join(','));
    expect(new Set(keys).size).toBe(1000);
  });
});

describe('tenant schema names', () => {
  it('takes plain identifiers, as written', () => {
    for (const name of ['tenant_1', 'Acme', '_t', 'a$b', 'x'.repeat(63)])
      expect(checkTenantSchema(name)).toBe(name);
    expect(schemaIdentifier('Acme')).toBe('"Acme"');
  });

  it('refuses anything else before any SQL', () => {
    for (const name of [
      '',
      '1tenant',
      'tenant-1',
      'tenant 1',
      'a"b',
      'a;DROP TABLE x',
      'x'.repeat(64),
      'é',
      'pg_temp',
      'PG_catalog',
      'information_schema',
      42,
      null,
    ])
      expect(() => checkTenantSchema(name)).toThrow(InvalidTenantSchemaError);
  });
});
