import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/*
 * The smoke run starts some 30 Node processes (replicas and peers) one fleet after another: about
 * 40 s on an idle 2-core machine, over 120 s beside the other suites' workers. Its own bound, and
 * the bench is killed (its replicas exit with it) before Jest gives up, so a slow run fails with
 * the bench's output instead of leaving processes behind.
 */
const BENCH_KILLED_AFTER_MS = 290_000; // and the test's own timeout, 300 s, below

/** The bench with tiny counts, so it cannot rot. No timing is asserted: timings belong in bench/. */
describe('npm run bench (smoke, --quick)', () => {
  it('prints one JSON object with every figure, each with its raw numbers beside the ratio', async () => {
    const { stdout } = await run(
      process.execPath,
      ['build/bench/run-bench.js', '--quick', '--json'],
      {
        env: { ...process.env, DATABASE_URL: process.env.MIGRATION_LOCK_TEST_ADMIN_URL },
        maxBuffer: 16 * 1024 * 1024,
        timeout: BENCH_KILLED_AFTER_MS,
      },
    );
    const results = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
    for (const key of [
      'withLockVsRaw',
      'jobTickOverheadVsRaw',
      'withLockOtelNoopVsOff',
      'withLockOtelSdkVsOff',
      'handoffVsRaw',
      'handoffEachVsRaw',
      'rollout16VsOne',
      'rollout16EachVsOne',
      'rollout16VsRaw',
      'followers16VsOne',
      'followers16VsRaw',
      'release16VsOne',
    ]) {
      expect(results[key]).toEqual(
        expect.objectContaining({
          median: expect.any(Number),
          min: expect.any(Number),
          max: expect.any(Number),
        }),
      );
    }
    expect(results.withLockVsRaw).toEqual(
      expect.objectContaining({
        withLockMedianUs: expect.any(Number),
        rawMedianUs: expect.any(Number),
        coldMedian: expect.any(Number),
        warmUpCalls: 10,
      }),
    );
    expect(results.jobTickOverheadVsRaw).toEqual(
      expect.objectContaining({
        jobMedianUs: expect.any(Number),
        rawMedianUs: expect.any(Number),
        warmUpCalls: 10,
      }),
    );
    expect(results.withLockOtelNoopVsOff).toEqual(
      expect.objectContaining({
        noopMedianUs: expect.any(Number),
        offMedianUs: expect.any(Number),
      }),
    );
    expect(results.withLockOtelSdkVsOff).toEqual(
      expect.objectContaining({ sdkMedianUs: expect.any(Number), offMedianUs: expect.any(Number) }),
    );
    expect(results.handoffVsRaw).toEqual(
      expect.objectContaining({ p50Us: expect.any(Number), p99Us: expect.any(Number) }),
    );
    for (const key of ['rollout16VsRaw', 'followers16VsRaw']) {
      expect(results[key]).toEqual(
        expect.objectContaining({
          rawManyMs: expect.any(Object),
          raw16VsOne: expect.any(Object),
          cpuMsPerReplica: expect.objectContaining({ median: expect.any(Number) }),
          rawCpuMsPerReplica: expect.objectContaining({ median: expect.any(Number) }),
          // The raw algorithm (read) inside the module's own kind of process.
          nestRawManyMs: expect.objectContaining({ median: expect.any(Number) }),
          nestRawCpuMsPerReplica: expect.objectContaining({ median: expect.any(Number) }),
          vsNestRaw: expect.objectContaining({ median: expect.any(Number) }),
          nestRawVsRaw: expect.objectContaining({ median: expect.any(Number) }),
          // The same on the median replica's CPU, with the history and without it.
          cpuVsNestRaw: expect.objectContaining({ median: expect.any(Number) }),
          noHistoryCpuVsNestRaw: expect.objectContaining({ median: expect.any(Number) }),
        }),
      );
    }
    // Where a follower's time goes: the raw read inside the follower's own kind of process.
    expect(results.followers16VsRaw).toEqual(
      expect.objectContaining({
        nestRawManyMs: expect.objectContaining({ median: expect.any(Number) }),
        nestRawCpuMsPerReplica: expect.objectContaining({ median: expect.any(Number) }),
        vsNestRaw: expect.objectContaining({ median: expect.any(Number) }),
        nestRawVsRaw: expect.objectContaining({ median: expect.any(Number) }),
        nestPoolManyMs: expect.objectContaining({ median: expect.any(Number) }),
        nestPoolCpuMsPerReplica: expect.objectContaining({ median: expect.any(Number) }),
        vsNestPool: expect.objectContaining({ median: expect.any(Number) }),
        // A follower whose code was compiled by an earlier run: what the first call costs.
        warmManyMs: expect.objectContaining({ median: expect.any(Number) }),
        warmCpuMsPerReplica: expect.objectContaining({ median: expect.any(Number) }),
        vsWarm: expect.objectContaining({ median: expect.any(Number) }),
        warmVsNestPool: expect.objectContaining({ median: expect.any(Number) }),
        nestPoolVsNestRaw: expect.objectContaining({ median: expect.any(Number) }),
      }),
    );
    // Many migrations on the repository's TypeORM 1.x, and again in a process that loads 0.3.
    type Pass = { typeorm: string; all: unknown; each: unknown };
    const many = results.manyMigrationsVsTypeorm as unknown as Pass & { typeorm03: Pass };
    expect(many.typeorm).toMatch(/^1\./);
    expect(many.typeorm03.typeorm).toMatch(/^0\.3\./);
    for (const [mode, pass] of [
      ['all', many],
      ['each', many],
      ['all', many.typeorm03],
      ['each', many.typeorm03],
    ] as const) {
      expect(pass[mode]).toEqual(
        expect.objectContaining({
          median: expect.any(Number),
          moduleMs: expect.any(Number),
          typeormMs: expect.any(Number),
          // The same statements on one raw pg client: the server's own share of both sides.
          rawMs: expect.any(Number),
          moduleVsRaw: expect.any(Number),
          typeormVsRaw: expect.any(Number),
        }),
      );
    }
    // The history: validate() in a fresh process, and a replica's start warn ÷ off.
    expect(results.validate500Ms).toEqual(
      expect.objectContaining({ p50: expect.any(Number), migrations: expect.any(Number) }),
    );
    expect(results.bootValidateVsOff).toEqual(
      expect.objectContaining({
        ratio: expect.any(Number),
        warnMs: expect.any(Number),
        offMs: expect.any(Number),
      }),
    );
    // Schema-per-tenant: the module vs the TypeORM loop, a fleet of 4 vs 1, and vs raw.
    expect(results.tenants1000VsTypeormLoop).toEqual(
      expect.objectContaining({ ratio: expect.any(Number), typeormMs: expect.any(Number) }),
    );
    expect(results.tenantsFleet4VsOne).toEqual(
      expect.objectContaining({ ratio: expect.any(Number), shares: expect.any(Array) }),
    );
    const fleet = results.tenantsFleet4VsOne as { shares: number[]; tenants: number };
    expect(fleet.shares.reduce((sum, n) => sum + n, 0)).toBe(fleet.tenants);
    expect(results.tenantOverheadVsRaw).toEqual(
      expect.objectContaining({ ratio: expect.any(Number), rawMsPerTenant: expect.any(Number) }),
    );
    expect(results.testDatabaseMs).toEqual(
      expect.objectContaining({ p50: expect.any(Number), coldP50: expect.any(Number) }),
    );
    expect(results.testDatabaseVsRawTemplate).toEqual(
      expect.objectContaining({
        median: expect.any(Number),
        rawP50Ms: expect.any(Number),
        cold: expect.any(Number),
      }),
    );
    expect(results.testDatabaseVsMigrate200).toEqual(
      expect.objectContaining({
        ratio: expect.any(Number),
        coldRatio: expect.any(Number),
        migrateMs: expect.any(Number),
      }),
    );
    expect(results.extraConnectionsWhileMigrating).toEqual({
      all: expect.any(Number),
      each: expect.any(Number),
    });
    expect(Object.keys(results.peers).sort()).toEqual([
      'migrationLock',
      'nodePgMigrate',
      'nodePgMigrateWait',
      'typeormNoLock',
    ]);
    // Whatever the timing, the lock never applies anything twice.
    expect(results.peers.migrationLock).toMatchObject({ runsWithDoubleApplication: 0 });
  }, 300_000);
});
