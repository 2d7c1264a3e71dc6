/** Messages between the rollout demo (parent) and its replica processes, over the fork IPC channel. */
export type ParentMessage = { type: 'go' } | { type: 'stop' };

export type ReplicaMessage =
  | { type: 'loaded' }
  | {
      type: 'ready';
      outcome: 'applied' | 'followed';
      applied: string[];
      waitedMs: number;
      port: number;
    }
  | { type: 'failed'; error: string; code?: string };

/** How a replica migrates: under the lock (the product) or plain TypeORM runMigrations (the control). */
export type ReplicaMode = 'locked' | 'unlocked';
