import { serveNodePgMigrate } from './node-pg-migrate-peer.js';

// node-pg-migrate as installed: advisoryLockMode 'fail'.
serveNodePgMigrate('fail');
