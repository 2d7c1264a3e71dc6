import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { minify } from 'terser';
import ts from 'typescript';
import type { MigrationInterface } from 'typeorm';

/*
 * One migration source compiled the ways a project may compile it (TypeScript targets, CommonJS or
 * ESM, minified), written to files and loaded: what the checksum must not see.
 */
export type Build = {
  name: string;
  target: ts.ScriptTarget;
  module: 'cjs' | 'esm';
  minify?: boolean;
};

export const BUILDS: Build[] = [
  {
    name: 'ES2015, CommonJS (generator-based async)',
    target: ts.ScriptTarget.ES2015,
    module: 'cjs',
  },
  { name: 'ES2022, ESM (class fields)', target: ts.ScriptTarget.ES2022, module: 'esm' },
  { name: 'ES2022, ESM, minified', target: ts.ScriptTarget.ES2022, module: 'esm', minify: true },
  {
    name: 'ES2017, CommonJS, minified',
    target: ts.ScriptTarget.ES2017,
    module: 'cjs',
    minify: true,
  },
];

/** A folder for compiled migrations, inside the repository (their `typeorm` import resolves). */
export function compiledMigrationsDir(): { dir: string; remove: () => void } {
  const cache = fileURLToPath(new URL('../../node_modules/.cache/', import.meta.url));
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'compiled-migrations-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `source` compiled as `build` describes, loaded; resolves the class exported as `className`. */
export async function compiledMigration(
  dir: string,
  source: string,
  build: Build,
  label: string,
  className: string,
): Promise<new () => MigrationInterface> {
  let code = ts.transpileModule(source, {
    compilerOptions: {
      target: build.target,
      module: build.module === 'cjs' ? ts.ModuleKind.CommonJS : ts.ModuleKind.ES2022,
      useDefineForClassFields: build.target >= ts.ScriptTarget.ES2022,
    },
  }).outputText;
  if (build.minify) code = (await minify(code, { mangle: true, compress: true })).code!;
  const file = join(
    dir,
    `${label}-${BUILDS.indexOf(build)}.${build.module === 'cjs' ? 'cjs' : 'mjs'}`,
  );
  writeFileSync(file, code);
  const exports = (await import(pathToFileURL(file).href)) as Record<
    string,
    new () => MigrationInterface
  >;
  return (
    exports[className] ??
    (exports.default as unknown as Record<string, new () => MigrationInterface>)?.[className]
  );
}
