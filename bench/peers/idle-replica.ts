import { servePeerReplica } from './peer-replica.js';

/*
 * The floor of the harness itself: a replica with nothing to do. On `go` it answers `ready` at
 * once, with no database and no code of ours. 16 of these against 1 is what waking 16 processes
 * and hearing back from them costs on this machine, before any work is done.
 */
servePeerReplica(async () => []);
