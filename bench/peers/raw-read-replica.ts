import { serveRawRead } from './raw-read.js';

/*
 * The floor for followers: a replica that only reads the migrations table with a raw `pg` client,
 * no Nest, no TypeORM, no lock. Connected and warmed up before `loaded`, released by the same
 * signal as the real replicas.
 */
await serveRawRead();
