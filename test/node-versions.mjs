#!/usr/bin/env node
// `npm run test:node-versions [-- 20.19 26]`: the README's `npm test` on the oldest Node.js we
// support (20.19.0) and on each later major (22, 24, 26), each a binary from the npm registry
// (test/support/node-binaries.mjs) put first on PATH, so that jest and every process the tests
// start run on it. The machine's own Node (a later 20.x here) runs it in `npm test` itself.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeOf } from './support/exit-code-of.mjs';
import { NODE_VERSIONS, nodeBinDir, onNode } from './support/node-binaries.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

// Oldest first (Object.keys would put the integer-like majors before '20.19').
const lines = process.argv.slice(2).length
  ? process.argv.slice(2)
  : Object.keys(NODE_VERSIONS).sort((a, b) => Number(a) - Number(b));
let passed = 0;
let failed = 0;
for (const line of lines) {
  const bin = await nodeBinDir(line);
  console.log(`\n=== Node.js ${NODE_VERSIONS[line]}: npm test`);
  const code = await exitCodeOf('npm', ['test'], { cwd: ROOT, env: onNode(bin) });
  if (code === 0) passed += 1;
  else failed += 1;
  console.log(`=== Node.js ${NODE_VERSIONS[line]}: ${code === 0 ? 'passed' : 'FAILED'}`);
}
console.log(`node-versions: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
