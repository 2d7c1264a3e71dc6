import type { DataSourceOptions } from 'typeorm';
import { CreateCounters1700000000001 } from './migrations/1700000000001-create-counters';
import { RecordSideEffect1700000000002 } from './migrations/1700000000002-record-side-effect';

/** The app's TypeORM options: migrations as classes, run by MigrationLockModule (not migrationsRun). */
export function dataSourceOptions(): DataSourceOptions {
  return {
    type: 'postgres',
    url: process.env.DATABASE_URL,
    migrations: [CreateCounters1700000000001, RecordSideEffect1700000000002],
    migrationsRun: false,
  };
}
