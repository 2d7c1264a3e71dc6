// Native ESM (NestJS 12 is ESM-only): run with NODE_OPTIONS=--experimental-vm-modules (see package.json).
const project = (displayName, testTimeout) => ({
  displayName,
  testMatch: [`<rootDir>/test/${displayName}/**/*.spec.ts`],
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout,
});

export default {
  // One PostgreSQL server for the whole run (embedded unless DATABASE_URL is set); a database per file.
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  globalTeardown: '<rootDir>/test/support/global-teardown.mjs',
  // Two cores: more workers only add contention to the timing-free but process-heavy suites.
  maxWorkers: 2,
  projects: [project('unit', 10_000), project('integration', 60_000), project('e2e', 120_000)],
};
