// The testing entry: `import { createTestDatabase } from 'nestjs-migration-lock/testing'`.
export {
  createTestDatabase,
  type CreateTestDatabaseOptions,
  type TestDatabase,
} from './create-test-database.js';
export { TestDatabaseThroughPoolerError } from '../errors/migration-lock.errors.js';
