import {
  cpuMsSince,
  epochNow,
  type ParentMessage,
  type ReplicaMessage,
  warmUpMeasurements,
} from '../../reference/demo/replica-protocol.js';

/*
 * What every benchmark peer replica says over the fork IPC channel, as the reference replica does:
 * `loaded` once connected, then on `go` its migration phase, then `ready` (with the instant the
 * phase ended) or `failed`.
 */
const send = (message: ReplicaMessage) => process.send?.(message);

/** Answers the parent's `go` with `migrate()` and `stop` with `stop()`; says `loaded`. */
export function servePeerReplica(
  migrate: () => Promise<string[]>,
  stop: () => Promise<unknown> = async () => undefined,
): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'go') void migratePhase(migrate);
    if (message.type === 'stop') void stop().finally(() => process.exit(0));
  });
  warmUpMeasurements();
  send({ type: 'loaded' });
}

async function migratePhase(migrate: () => Promise<string[]>): Promise<void> {
  const cpuAtGo = process.cpuUsage();
  try {
    const applied = await migrate();
    const migratedAt = epochNow();
    const cpuMs = cpuMsSince(cpuAtGo);
    send({
      type: 'ready',
      outcome: applied.length > 0 ? 'applied' : 'followed',
      applied,
      waitedMs: 0,
      heldMs: 0,
      migratedAt,
      port: 0,
      cpuMs,
    });
  } catch (error) {
    send({ type: 'failed', error: (error as Error).message });
  }
}
