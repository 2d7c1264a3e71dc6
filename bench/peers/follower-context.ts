import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { ReplicaModule } from '../../reference/demo/replica.module.js';
import { replicaConfigFromEnv } from '../../reference/demo/replica-protocol.js';

/**
 * The reference service's application context, loaded, initialized and connected as a follower
 * replica builds it: the process the follower-floor peers read in.
 */
export async function followerContext(): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(
    ReplicaModule.register(replicaConfigFromEnv(process.env)),
    { logger: ['error'] },
  );
  await app.init();
  return app;
}
