import { fnv1a32Signed, type AdvisoryLockKey } from '../lock/lock-key.js';
import { checkTenantSchema } from './tenant-schema.js';

/**
 * The advisory lock key of one tenant schema, for the migration lock `id` / `type`:
 *
 *     ( fnv1a32(id + "." + schema), fnv1a32(type + ".tenant") )
 *
 * FNV-1a 32-bit over the UTF-8 bytes, each read as a signed int4: the hash of the migration lock
 * itself (lock-key.ts), over other strings. The second half is the type's with ".tenant" appended,
 * so no tenant key equals the shared migration lock's key (id, type), and a service in another
 * language derives the same keys from the same strings. Two tenants whose first halves collide
 * share a lock: they are migrated one after the other, never wrongly. Vectors: docs/tenants.md.
 */
export function tenantLockKey(id: string, type: string, schema: string): AdvisoryLockKey {
  checkTenantSchema(schema);
  const [tenantId, tenantType] = tenantLockName(id, type, schema);
  return Object.freeze([fnv1a32Signed(tenantId), fnv1a32Signed(tenantType)] as const);
}

/**
 * The lock id and type a tenant's lock is taken with (AdvisoryLockService hashes them as above):
 * `id.schema` and `type.tenant`.
 */
export function tenantLockName(id: string, type: string, schema: string): [string, string] {
  return [`${id}.${schema}`, `${type}.tenant`];
}
