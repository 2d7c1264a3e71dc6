// Native ESM (NestJS 12 is ESM-only): run with NODE_OPTIONS=--experimental-vm-modules (see package.json).
const project = (displayName) => ({
  displayName,
  testMatch: [`<rootDir>/test/${displayName}/**/*.spec.ts`],
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  setupFilesAfterEnv: ['<rootDir>/test/support/quiet-logs.ts'],
});

export default {
  // One PostgreSQL server for the whole run (embedded unless DATABASE_URL is set); a database per file.
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  // Two cores: more workers only add contention to the timing-free but process-heavy suites.
  maxWorkers: 2,
  // A worker that has run the e2e suites (~470 MB) takes ~0.5 s from its 'exit' event to the end of
  // the process (measured: its only handles at the end are Jest's own pipes), against a default
  // grace of 500 ms: Jest then reported a leak that was not there after most full runs.
  workerGracefulExitTimeout: 5_000,
  // Generous: process-level e2e tests start real replicas on a 2-core machine. No test waits on a timer.
  testTimeout: 120_000,
  projects: [project('unit'), project('integration'), project('e2e')],
};
