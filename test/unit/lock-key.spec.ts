import { advisoryLockKey, fnv1a32Signed, lockKeyAsOids } from '../../src/lock/lock-key.js';
import { InvalidLockArgumentError } from '../../src/errors/migration-lock.errors.js';

describe('advisoryLockKey', () => {
  it('matches the Go implementation for the migrations lock', () => {
    expect(advisoryLockKey('migrations', 'Migrations')).toEqual([457026696, -1494325336]);
  });

  it('hashes id and type separately', () => {
    const [first] = advisoryLockKey('a', 'anything');
    expect(first).toBe(-468965076);
    expect(advisoryLockKey('a', 'b')[0]).toBe(first);
  });

  it('is FNV-1a 32 over UTF-8 bytes, read as signed int4', () => {
    // Reference values of the FNV-1a 32 test suite (unsigned), read as int32.
    expect(fnv1a32Signed('')).toBe(0x811c9dc5 | 0);
    expect(fnv1a32Signed('foobar') >>> 0).toBe(0xbf9cf968);
    // Non-ASCII goes in as UTF-8 bytes: "é" is 0xC3 0xA9, not the UTF-16 unit 0xE9.
    const bytesOfE = Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) | 0;
    expect(fnv1a32Signed('é')).toBe(bytesOfE);
    expect(fnv1a32Signed('日本')).toBe(fnv1a32Signed('\u65e5\u672c'));
    expect(fnv1a32Signed('🔒')).not.toBe(fnv1a32Signed('\ud83d'));
  });

  it('hashes exactly the bytes TextEncoder makes, lone surrogates included', () => {
    const viaTextEncoder = (text: string) => {
      let hash = 0x811c9dc5;
      for (const byte of new TextEncoder().encode(text)) hash = Math.imul(hash ^ byte, 0x01000193);
      return hash | 0;
    };
    const fixed = [
      'a\u00ff',
      '\u07ff\u0800',
      '\uffff',
      '\u{10000}\u{10ffff}',
      '\ud800',
      'x\udc00y',
    ];
    // A fixed pseudo-random walk over every UTF-16 range: ASCII, 2- and 3-byte, both surrogate halves.
    let seed = 42;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    const random = Array.from({ length: 500 }, () =>
      String.fromCharCode(...Array.from({ length: 1 + (next() % 12) }, () => next() % 0x10000)),
    );
    for (const text of [...fixed, ...random]) {
      expect(fnv1a32Signed(text)).toBe(viaTextEncoder(text));
    }
  });

  it('shows negative halves as unsigned oids, as pg_locks does', () => {
    expect(lockKeyAsOids(advisoryLockKey('migrations', 'Migrations'))).toEqual([
      457026696, 2800641960,
    ]);
  });

  it.each([
    ['', 'Migrations'],
    ['migrations', ''],
    [undefined, 'Migrations'],
    [42, 'Migrations'],
    ['migrations', null],
  ])('rejects id %p / type %p with a typed error', (id, type) => {
    expect(() => advisoryLockKey(id as string, type as string)).toThrow(InvalidLockArgumentError);
    try {
      advisoryLockKey(id as string, type as string);
    } catch (error) {
      expect((error as InvalidLockArgumentError).code).toBe('INVALID_LOCK_ARGUMENT');
    }
  });
});
