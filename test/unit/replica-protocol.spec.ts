import {
  replicaConfigFromEnv,
  replicaEnv,
  type ReplicaConfig,
} from '../../reference/demo/replica-protocol.js';

describe('replica protocol', () => {
  // Every setting the parent gives must reach the forked replica: a lost one silently changes
  // what the fleet tests and the benchmark measure (the HTTP server, the pool's idle timeout).
  it('carries every replica setting through the environment', () => {
    const config: Required<ReplicaConfig> = {
      databaseUrl: 'postgres://u@h/db',
      mode: 'unlocked',
      transaction: 'each',
      scenarios: ['gate', 'cic'],
      lockTimeoutMs: 250,
      poolIdleTimeoutMs: 100,
      http: false,
      directUrl: 'postgres://u@direct/db',
      validate: 'off',
      historyTable: false,
    };
    expect(replicaConfigFromEnv(replicaEnv(config))).toEqual(config);
  });

  it('defaults to a locked replica with an HTTP server', () => {
    expect(replicaConfigFromEnv(replicaEnv({ databaseUrl: 'postgres://u@h/db' }))).toMatchObject({
      mode: 'locked',
      transaction: 'all',
      http: true,
    });
  });
});
