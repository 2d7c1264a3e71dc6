import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

/*
 * The library's imports only run downward, and no file reaches itself through its imports (type
 * imports included: a cycle of types is still a cycle a reader has to hold in their head).
 */
const SRC = 'src';

/** Folders from the bottom up; a folder may import its own files and any folder below it. */
const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['connection'],
  ['telemetry'],
  ['lock'],
  ['history'],
  ['migration-runner'],
  ['status'],
  ['health', 'jobs', 'tenants'],
  ['module'],
  ['cli', 'testing'],
  ['.'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The files of src/ a file imports (relative imports, `.js` written for `.ts`). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)].map((match) =>
    normalize(join(dirname(file), match[1].replace(/\.js$/, '.ts'))),
  );
}

const folderOf = (file: string) => relative(SRC, dirname(file)).split('/')[0] || '.';

function layerOf(file: string): number {
  const folder = folderOf(file);
  const layer = LAYERS.findIndex((folders) => folders.includes(folder));
  if (layer < 0) throw new Error(`${folder}/ has no layer: add it to LAYERS`);
  return layer;
}

describe('src/ layers', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((file) => [file, importsOf(file)]));

  it('imports only run downward (or within a folder)', () => {
    const upward = [...graph].flatMap(([file, imports]) =>
      imports
        .filter((target) => folderOf(target) !== folderOf(file) && layerOf(target) >= layerOf(file))
        .map((target) => `${file} -> ${target}`),
    );
    expect(upward).toEqual([]);
  });

  it('no file reaches itself through its imports', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
