import type { ResolvedMigrationLockOptions } from '../module/migration-lock-options.interface.js';
import type { MigrationLockEvents } from './migration-events.js';

/** What a MigrationRunnerService needs of the module options. */
export type MigrationRunnerOptions = Pick<
  ResolvedMigrationLockOptions,
  'lockId' | 'lockType' | 'timeoutMs' | 'transaction'
> & { events?: MigrationLockEvents };
