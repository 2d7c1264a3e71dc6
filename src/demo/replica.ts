import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { MigrationRunnerService } from '../migration-runner/migration-runner.service.js';
import type { ParentMessage, ReplicaMessage, ReplicaMode } from './replica-protocol.js';
import { ReplicaModule, UnlockedMigrations } from './replica.module.js';

/*
 * One replica of the rollout demo, forked by fleet.ts. It loads its code and connects to the
 * database, says `loaded`, and runs its bootstrap (the migrations) and listens only on `go`: all
 * replicas then migrate at the same instant instead of being staggered by Node start-up on two cores.
 */
const send = (message: ReplicaMessage) => process.send?.(message);
const mode = (process.env.REPLICA_MODE ?? 'locked') as ReplicaMode;
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('replica needs DATABASE_URL');

process.on('disconnect', () => process.exit(0));
const app = await NestFactory.create(ReplicaModule.register(databaseUrl, mode), {
  logger: ['error'],
}).catch((error: unknown) => {
  send({ type: 'failed', error: (error as Error).message });
  process.exit(1);
});
process.on('message', (message: ParentMessage) => {
  if (message.type === 'go') void start();
  if (message.type === 'stop') void app.close().finally(() => process.exit(0));
});
send({ type: 'loaded' });

async function start(): Promise<void> {
  try {
    // listen() runs the bootstrap hooks (the migrations) before the port opens.
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const locked = mode === 'locked' ? app.get(MigrationRunnerService).lastResult : undefined;
    const applied = locked ? locked.applied : app.get(UnlockedMigrations).applied;
    send({
      type: 'ready',
      outcome: applied.length > 0 ? 'applied' : 'followed',
      applied: [...applied],
      waitedMs: locked?.waitedMs ?? 0,
      port,
    });
  } catch (error) {
    send({
      type: 'failed',
      error: (error as Error).message,
      code: (error as { code?: string }).code,
    });
    process.exitCode = 1;
  }
}
