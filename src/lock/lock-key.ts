import { InvalidLockArgumentError } from '../errors/migration-lock.errors.js';

/** The two int4 halves of a PostgreSQL advisory lock key: `pg_advisory_xact_lock(key[0], key[1])`. */
export type AdvisoryLockKey = readonly [number, number];

const FNV32_OFFSET_BASIS = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
const utf8 = new TextEncoder();

/**
 * FNV-1a 32-bit over the UTF-8 bytes of `text`, read as a signed int4.
 * This is exactly hyperfleet-api's Go `hash()` (fnv.New32a + int32 cast), so Go and Node
 * services sharing one database exclude each other.
 */
export function fnv1a32Signed(text: string): number {
  let hash = FNV32_OFFSET_BASIS;
  for (const byte of utf8.encode(text)) {
    hash = Math.imul(hash ^ byte, FNV32_PRIME);
  }
  return hash | 0;
}

/**
 * The advisory lock key for a lock `id` of a lock `type`: each string hashed on its own, so
 * ("migrations", "Migrations") ⇒ (457026696, -1494325336).
 * @throws InvalidLockArgumentError when either is not a non-empty string (before any SQL runs).
 */
export function advisoryLockKey(id: string, type: string): AdvisoryLockKey {
  assertLockName('id', id);
  assertLockName('type', type);
  return Object.freeze([fnv1a32Signed(id), fnv1a32Signed(type)] as const);
}

function assertLockName(argument: 'id' | 'type', value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw InvalidLockArgumentError.create(argument, value);
  }
}

/** pg_locks shows both halves as unsigned oids (classid, objid); negative keys wrap. */
export function lockKeyAsOids(key: AdvisoryLockKey): readonly [number, number] {
  return [key[0] >>> 0, key[1] >>> 0];
}
