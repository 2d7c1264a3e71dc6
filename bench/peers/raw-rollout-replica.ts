import { serveRawRollout } from './raw-rollout.js';

/** The raw rollout floor (raw-rollout.ts) in a bare Node process: no Nest, no TypeORM. */
await serveRawRollout();
