import { InvalidLockArgumentError } from '../errors/migration-lock.errors.js';
import { shown } from '../errors/migration-lock.messages.js';

/** The two int4 halves of a PostgreSQL advisory lock key: `pg_advisory_xact_lock(key[0], key[1])`. */
export type AdvisoryLockKey = readonly [number, number];

const FNV32_OFFSET_BASIS = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
const REPLACEMENT_CHARACTER = 0xfffd;

/**
 * FNV-1a 32-bit over the UTF-8 bytes of `text`, read as a signed int4.
 * This is exactly hyperfleet-api's Go `hash()` (fnv.New32a + int32 cast), so Go and Node
 * services sharing one database exclude each other.
 * The bytes are made on the fly, as TextEncoder would make them (a lone surrogate becomes U+FFFD):
 * every withLock call hashes its id and type, and TextEncoder's buffer cost more than the rest of
 * the key.
 */
export function fnv1a32Signed(text: string): number {
  let hash = FNV32_OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      hash = mix(hash, code);
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const low = text.charCodeAt(i + 1);
      if (code <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      } else {
        code = REPLACEMENT_CHARACTER;
      }
    }
    hash = hashMultiByte(hash, code);
  }
  return hash | 0;
}

/** UTF-8 lead byte marks, by the number of continuation bytes that follow. */
const UTF8_LEAD = [0x00, 0xc0, 0xe0, 0xf0] as const;

const mix = (hash: number, byte: number) => Math.imul(hash ^ byte, FNV32_PRIME);

/** Feeds the 2-, 3- or 4-byte UTF-8 form of a code point ≥ 0x80: a lead byte, then 6 bits a byte. */
function hashMultiByte(hash: number, code: number): number {
  const continuationBytes = code < 0x800 ? 1 : code < 0x10000 ? 2 : 3;
  let mixed = mix(hash, UTF8_LEAD[continuationBytes] | (code >> (6 * continuationBytes)));
  for (let shift = 6 * (continuationBytes - 1); shift >= 0; shift -= 6) {
    mixed = mix(mixed, 0x80 | ((code >> shift) & 0x3f));
  }
  return mixed;
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

/** `"id/type" (k1, k2)`: how a lock is named in messages and logs. */
export function describeLock(id: string, type: string, key: AdvisoryLockKey): string {
  return `"${shown(id)}/${shown(type)}" (${key[0]}, ${key[1]})`;
}

/** Which lock: its id and type, their key, and how messages name it. */
export interface LockIdentity {
  readonly id: string;
  readonly type: string;
  readonly key: AdvisoryLockKey;
  /** `"id/type" (k1, k2)`, for messages. */
  readonly name: string;
}

/**
 * A lock's identity, checked; callers that take one lock again and again (the migration runner)
 * make it once.
 */
export function lockIdentity(id: string, type: string): LockIdentity {
  const key = advisoryLockKey(id, type);
  return { id, type, key, name: describeLock(id, type, key) };
}
