import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DIR = join('build', 'readme-code');

/** Every page a user or contributor reads: the README, CONTRIBUTING.md and docs/. */
const PAGES = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync('docs')
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name)),
];

/** A page's ```ts blocks: each is a whole file a user could paste. */
function tsBlocks(page: string): string[] {
  const text = readFileSync(page, 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

describe('README and docs code', () => {
  it('type-checks every TypeScript block against the built package, as a user imports it', async () => {
    expect(tsBlocks('README.md').length).toBeGreaterThanOrEqual(4);
    const blocks = PAGES.flatMap(tsBlocks);
    expect(blocks.length).toBeGreaterThanOrEqual(10);
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    blocks.forEach((code, i) => writeFileSync(join(DIR, `block-${i + 1}.ts`), code));
    // 'nestjs-migration-lock' resolves to this package by its own name (package.json exports).
    writeFileSync(
      join(DIR, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node', 'jest'],
        },
        include: ['*.ts'],
      }),
    );
    const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', DIR]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe('');
  });
});
