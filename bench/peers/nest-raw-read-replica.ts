import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { ReplicaModule } from '../../reference/demo/replica.module.js';
import { replicaConfigFromEnv } from '../../reference/demo/replica-protocol.js';
import { servePeerReplica } from './peer-replica.js';

/*
 * The raw reader of raw-read-replica.ts inside a follower's own process: the reference service's
 * application context (Nest, TypeORM, the module: loaded, initialized, connected) is built as a
 * follower builds it, but the migration phase is only the raw `pg` read. Followers ÷ this is what
 * the follower path costs over the read itself in the same process; this ÷ the raw reader is what
 * a Nest + TypeORM process costs over a bare one, before any code of the follower path runs.
 */
const READ_SQL = 'SELECT name FROM migrations';
const app = await NestFactory.createApplicationContext(
  ReplicaModule.register(replicaConfigFromEnv(process.env)),
  { logger: ['error'] },
);
await app.init();
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client.on('error', () => undefined);
await client.connect();
await client.query(READ_SQL);

servePeerReplica(
  async () => {
    await client.query(READ_SQL);
    return [];
  },
  async () => {
    await client.end();
    await app.close();
  },
);
