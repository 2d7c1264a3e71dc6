import { readFile, writeFile } from 'node:fs/promises';

/*
 * The tenant-scale figures (`npm run bench:tenant-scale -- --out docs`) live in their own marked
 * section of docs/benchmarks.md: that run is too slow to be part of every bench run, and the
 * bench run that regenerates the page keeps the section as it found it.
 */
const BEGIN = '<!-- tenant-scale:begin -->';
const END = '<!-- tenant-scale:end -->';

/** The marked section of a benchmarks page, or '' when it has none. */
export function tenantScaleSection(page: string): string {
  const start = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  return start >= 0 && end > start ? page.slice(start, end + END.length) : '';
}

/** `page` with its marked section replaced by `body` (appended when it has none). */
export function withTenantScaleSection(page: string, body: string): string {
  const section = `${BEGIN}\n${body.trim()}\n${END}`;
  const old = tenantScaleSection(page);
  return old ? page.replace(old, section) : `${page.trimEnd()}\n\n${section}\n`;
}

/** Writes `generated` to `file`, keeping the marked section the file had. */
export async function writeKeepingTenantScale(file: string, generated: string): Promise<void> {
  const kept = tenantScaleSection(await readFile(file, 'utf8').catch(() => ''));
  await writeFile(file, kept ? `${generated.trimEnd()}\n\n${kept}\n` : generated);
}
