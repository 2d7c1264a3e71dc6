import { replicaContext } from './replica-context.js';
import { serveRawRollout } from './raw-rollout.js';

/*
 * The raw rollout of raw-rollout.ts inside a replica's own process: the reference service's
 * application context (Nest, TypeORM, the module: loaded, initialized, connected; its runner does
 * not run) is built as a replica builds it, but the migration phase is the raw algorithm on a client
 * of its own. The rollout ÷ this is what the module's path costs over the same algorithm in the
 * same kind of process; this ÷ the bare raw rollout is what a Nest + TypeORM process costs by itself.
 */
const app = await replicaContext();
await serveRawRollout(() => app.close());
