import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { pendingMigrationNames } from '../../src/migration-runner/pending-migrations.js';
import {
  cpuMsSince,
  epochNow,
  replicaConfigFromEnv,
  type ParentMessage,
  type ReplicaMessage,
  warmUpMeasurements,
} from './replica-protocol.js';
import { ReplicaModule, UnlockedMigrations } from './replica.module.js';

/*
 * One replica of the rollout demo, forked by replica-process.ts. It loads its code and connects to
 * the database, says `loaded`, and runs its bootstrap (the migrations) and listens only on `go`:
 * all replicas then migrate at the same instant instead of being staggered by Node start-up.
 * SIGTERM goes through Nest's shutdown hooks, as in a real deployment.
 */
const send = (message: ReplicaMessage) => process.send?.(message);
const config = replicaConfigFromEnv(process.env);

process.on('disconnect', () => process.exit(0));
// Without HTTP, the replica is the standalone runner: the same module in an application context.
const module = ReplicaModule.register(config);
const created =
  config.http === false
    ? NestFactory.createApplicationContext(module, { logger: ['error'] })
    : NestFactory.create(module, { logger: ['error'] });
const app = (await created.catch((error: unknown) => {
  send({ type: 'failed', error: (error as Error).message });
  process.exit(1);
})) as INestApplication;
app.enableShutdownHooks();
// Looked up once, as the module's bootstrap hook holds the runner: not inside the timed phase.
const runner = config.mode === 'locked' ? app.get(MigrationRunnerService) : undefined;
const unlocked = runner ? undefined : app.get(UnlockedMigrations);
process.on('message', (message: ParentMessage) => {
  if (message.type === 'go') void start();
  if (message.type === 'stop') void app.close().finally(() => process.exit(0));
});
// The standalone runner is initialized, and its read of the migrations table warmed up, before the
// start signal: after it, only the migration phase runs (what the benchmark measures).
if (config.http === false) {
  await app.init();
  await pendingMigrationNames(app.get(DataSource));
}
warmUpMeasurements();
send({ type: 'loaded' });

async function start(): Promise<void> {
  const cpuAtGo = process.cpuUsage();
  try {
    // listen() runs the bootstrap hooks (the migrations) before the port opens.
    let migratedAt: number | undefined;
    if (config.http === false) migratedAt = await migrateNow();
    else await app.listen(0, '127.0.0.1');
    const port = config.http === false ? 0 : (app.getHttpServer().address() as AddressInfo).port;
    const locked = runner?.lastResult;
    const applied = locked ? locked.applied : unlocked!.applied;
    migratedAt ??= runner ? runner.state.since.getTime() : unlocked!.doneAt;
    send({
      migratedAt,
      cpuMs: cpuMsSince(cpuAtGo),
      type: 'ready',
      outcome: applied.length > 0 ? 'applied' : 'followed',
      applied: [...applied],
      waitedMs: locked?.waitedMs ?? 0,
      heldMs: locked?.heldMs ?? 0,
      port,
    });
  } catch (error) {
    // A replica that cannot start exits non-zero, as a crash-looping pod would.
    const message: ReplicaMessage = {
      type: 'failed',
      error: (error as Error).message,
      code: (error as { code?: string }).code,
    };
    if (process.send) process.send(message, () => process.exit(1));
    else process.exit(1);
  }
}

/** The standalone runner's migration phase, started by the common start signal; resolves when it ended. */
async function migrateNow(): Promise<number> {
  if (runner) await runner.run();
  else await unlocked!.run();
  return epochNow();
}
