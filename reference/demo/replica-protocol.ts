import type { MigrationTransactionMode } from '../../src/module/interfaces/migration-lock-options.interface.js';
import type { Scenario } from './scenario-migrations.js';

/**
 * Now, as epoch milliseconds with sub-millisecond precision: comparable across the parent and its
 * replica processes (one clock), unlike Date.now(), whose whole milliseconds are too coarse for a
 * migration phase of a few milliseconds.
 */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** CPU ms (user + system) this process spent since `from` (a process.cpuUsage() reading). */
export const cpuMsSince = (from: NodeJS.CpuUsage): number => {
  const spent = process.cpuUsage(from);
  return (spent.user + spent.system) / 1000;
};

/**
 * Calls the two measuring functions once, for a replica to do before it says `loaded`. The first
 * process.cpuUsage() of a process costs about 0.5 ms of CPU (measured in a fresh peer process):
 * paid inside the timed phase, it made a replica that does nothing take 11 ms for 16 instead of 6,
 * and the raw-pg floors look slower than they are.
 */
export function warmUpMeasurements(): void {
  cpuMsSince(process.cpuUsage());
  epochNow();
}

/** Messages between the rollout demo (parent) and its replica processes, over the fork IPC channel. */
export type ParentMessage = { type: 'go' } | { type: 'stop' };

export type ReplicaMessage =
  | { type: 'loaded' }
  | {
      type: 'ready';
      outcome: 'applied' | 'followed';
      applied: string[];
      waitedMs: number;
      heldMs: number;
      /** When the migration phase ended (epochNow()), to compare across processes. */
      migratedAt: number;
      port: number;
      /** CPU time (user + system) the process spent from `go` to here, in ms. */
      cpuMs?: number;
    }
  | { type: 'failed'; error: string; code?: string };

/** How a replica migrates: under the lock (the product) or plain TypeORM runMigrations (the control). */
export type ReplicaMode = 'locked' | 'unlocked';

/** What a replica process is told through its environment. */
export interface ReplicaConfig {
  databaseUrl: string;
  mode?: ReplicaMode;
  transaction?: MigrationTransactionMode;
  scenarios?: readonly Scenario[];
  lockTimeoutMs?: number;
  poolIdleTimeoutMs?: number;
  /** false: the standalone runner (no HTTP server), as in an init container. @default true */
  http?: boolean;
  /** The module's directUrl: PostgreSQL itself, when databaseUrl goes through a pooler. */
  directUrl?: string;
  /** The module's `validate` (the drift check). @default the module's default, 'warn' */
  validate?: 'warn' | 'fail' | 'off';
  /** false: the module keeps no history (`historyTable: false`). @default the module's table */
  historyTable?: false;
}

export function replicaEnv(config: ReplicaConfig): Record<string, string> {
  return {
    DATABASE_URL: config.databaseUrl,
    REPLICA_MODE: config.mode ?? 'locked',
    REPLICA_TRANSACTION: config.transaction ?? 'all',
    REPLICA_SCENARIOS: (config.scenarios ?? []).join(','),
    ...(config.lockTimeoutMs === undefined
      ? {}
      : { REPLICA_LOCK_TIMEOUT_MS: String(config.lockTimeoutMs) }),
    ...(config.poolIdleTimeoutMs === undefined
      ? {}
      : { REPLICA_POOL_IDLE_MS: String(config.poolIdleTimeoutMs) }),
    REPLICA_HTTP: config.http === false ? 'off' : 'on',
    ...(config.directUrl === undefined ? {} : { REPLICA_DIRECT_URL: config.directUrl }),
    ...(config.validate === undefined ? {} : { REPLICA_VALIDATE: config.validate }),
    ...(config.historyTable === false ? { REPLICA_HISTORY_TABLE: 'off' } : {}),
  };
}

export function replicaConfigFromEnv(env: NodeJS.ProcessEnv): ReplicaConfig {
  if (!env.DATABASE_URL) throw new Error('replica needs DATABASE_URL');
  return {
    databaseUrl: env.DATABASE_URL,
    mode: (env.REPLICA_MODE ?? 'locked') as ReplicaMode,
    transaction: (env.REPLICA_TRANSACTION ?? 'all') as MigrationTransactionMode,
    scenarios: (env.REPLICA_SCENARIOS ?? '').split(',').filter(Boolean) as Scenario[],
    lockTimeoutMs: env.REPLICA_LOCK_TIMEOUT_MS ? Number(env.REPLICA_LOCK_TIMEOUT_MS) : undefined,
    poolIdleTimeoutMs: env.REPLICA_POOL_IDLE_MS ? Number(env.REPLICA_POOL_IDLE_MS) : undefined,
    http: env.REPLICA_HTTP !== 'off',
    directUrl: env.REPLICA_DIRECT_URL || undefined,
    validate: (env.REPLICA_VALIDATE || undefined) as ReplicaConfig['validate'],
    historyTable: env.REPLICA_HISTORY_TABLE === 'off' ? false : undefined,
  };
}
