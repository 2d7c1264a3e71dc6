import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { ReplicaModule } from '../../reference/demo/replica.module.js';
import { replicaConfigFromEnv } from '../../reference/demo/replica-protocol.js';

/**
 * The reference service's application context, loaded, initialized and connected as a replica
 * builds it (its runner does not run: the standalone replica starts it on the release): the process
 * the Nest-floor peers run their raw phase in.
 */
export async function replicaContext(): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(
    ReplicaModule.register(replicaConfigFromEnv(process.env)),
    { logger: ['error'] },
  );
  await app.init();
  return app;
}
