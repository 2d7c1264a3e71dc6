#!/usr/bin/env node
// `npm run test:node-versions [-- 22 26]`: the README's `npm test` on each supported Node.js major
// besides the machine's own (20 here), each a binary from the npm registry (test/support/
// node-binaries.mjs) put first on PATH, so that jest and every process the tests start run on it.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_VERSIONS, nodeBinDir, onNode } from './support/node-binaries.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(command, args, options) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

const majors = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(NODE_VERSIONS);
let passed = 0;
let failed = 0;
for (const major of majors) {
  const bin = await nodeBinDir(major);
  console.log(`\n=== Node.js ${NODE_VERSIONS[major]}: npm test`);
  const code = await run('npm', ['test'], { cwd: ROOT, env: onNode(bin) });
  if (code === 0) passed += 1;
  else failed += 1;
  console.log(`=== Node.js ${major}: ${code === 0 ? 'passed' : 'FAILED'}`);
}
console.log(`node-versions: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
