import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { replicaContext } from './replica-context.js';
import { servePeerReplica } from './peer-replica.js';

/*
 * A diagnostic, not a floor: the reference follower whose runner has already followed once before
 * the release (on the migrated database it only reads), so every function of its path has been
 * compiled when the timed run starts. V8 compiles a function on its first call; a real replica's
 * start-up run is always that first call. Followers ÷ this is what the first call costs; this ÷
 * the pool read (nest-pool-read-replica) is what the follower path costs once compiled.
 */
const app = await replicaContext();
const runner = app.get(MigrationRunnerService);
await runner.run();
servePeerReplica(
  async () => [...(await runner.run()).applied],
  () => app.close(),
);
