import { serveNodePgMigrate } from './node-pg-migrate-peer.js';

// node-pg-migrate in the mode that waits instead of crashing: advisoryLockMode 'wait'.
serveNodePgMigrate('wait');
