import { replicaContext } from './replica-context.js';
import { serveRawRead } from './raw-read.js';

/*
 * The raw reader of raw-read-replica.ts inside a follower's own process: the reference service's
 * application context (Nest, TypeORM, the module: loaded, initialized, connected) is built as a
 * follower builds it, but the migration phase is only the raw `pg` read. Followers ÷ this is what
 * the follower path costs over the read itself in the same process; this ÷ the raw reader is what
 * a Nest + TypeORM process costs over a bare one, before any code of the follower path runs.
 */
const app = await replicaContext();
await serveRawRead(() => app.close());
