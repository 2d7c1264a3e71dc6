import type { ReplicaConfig } from './replica-protocol.js';
import { ReplicaProcess, type ReplicaReport } from './replica-process.js';

export type { ReplicaReport } from './replica-process.js';

/** Replica processes that have loaded their code and connected, waiting for one common start. */
export interface Fleet {
  readonly replicas: readonly ReplicaProcess[];
  /** Starts every replica at the same instant; resolves when all have reported. */
  release(): Promise<ReplicaReport[]>;
  stop(): Promise<void>;
}

/** Forks `replicas` reference-service processes and waits until every one is loaded and connected. */
export async function launchFleet(
  replicas: number,
  config: ReplicaConfig,
  entry?: string,
): Promise<Fleet> {
  const processes = Array.from({ length: replicas }, (_, index) =>
    ReplicaProcess.spawn(index, config, entry),
  );
  await Promise.all(processes.map((replica) => replica.loaded));
  return {
    replicas: processes,
    release: () => {
      const since = performance.now();
      return Promise.all(processes.map((replica) => replica.go(since)));
    },
    stop: async () => void (await Promise.all(processes.map((replica) => replica.stop()))),
  };
}
