// Loads every shipped module of nestjs-migration-lock the way each build is meant to be loaded:
// dist/cjs with require(), dist/esm with import(). Any module that fails to load fails the run.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import 'reflect-metadata';

const require = createRequire(import.meta.url);
const root = join(process.cwd(), 'node_modules', 'nestjs-migration-lock');
const modules = JSON.parse(readFileSync('modules.json', 'utf8'));
for (const file of modules) {
  const path = join(root, file);
  if (file.startsWith('dist/cjs/')) require(path);
  else await import(path);
}
// The package entry by name, in both forms, exports the same API.
const fromRequire = Object.keys(require('nestjs-migration-lock')).sort();
const fromImport = Object.keys(await import('nestjs-migration-lock'))
  .filter((k) => k !== 'default')
  .sort();
if (fromRequire.join() !== fromImport.join())
  throw new Error(`require and import differ: ${fromRequire} vs ${fromImport}`);
if (!fromRequire.includes('MigrationLockModule')) throw new Error('no MigrationLockModule');
console.log(`loaded ${modules.length} modules`);
