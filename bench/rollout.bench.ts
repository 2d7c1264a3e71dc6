import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { launchFleet, type ReplicaReport } from '../reference/demo/fleet.js';
import type { ReplicaConfig } from '../reference/demo/replica-protocol.js';
import { withDatabase } from '../reference/runtime/connection-url.js';
import { median, spread, type Spread } from './stats.js';
import { withClient } from './admin-client.js';

const NODE_PG_MIGRATE_REPLICA = fileURLToPath(
  new URL('./peers/node-pg-migrate-replica.js', import.meta.url),
);
const NODE_PG_MIGRATE_WAIT_REPLICA = fileURLToPath(
  new URL('./peers/node-pg-migrate-wait-replica.js', import.meta.url),
);
const RAW_READ_REPLICA = fileURLToPath(new URL('./peers/raw-read-replica.js', import.meta.url));
const NEST_RAW_READ_REPLICA = fileURLToPath(
  new URL('./peers/nest-raw-read-replica.js', import.meta.url),
);
const NEST_POOL_READ_REPLICA = fileURLToPath(
  new URL('./peers/nest-pool-read-replica.js', import.meta.url),
);
const RAW_ROLLOUT_REPLICA = fileURLToPath(
  new URL('./peers/raw-rollout-replica.js', import.meta.url),
);
const NEST_RAW_ROLLOUT_REPLICA = fileURLToPath(
  new URL('./peers/nest-raw-rollout-replica.js', import.meta.url),
);
const WARM_FOLLOWER_REPLICA = fileURLToPath(
  new URL('./peers/warm-follower-replica.js', import.meta.url),
);
const IDLE_REPLICA = fileURLToPath(new URL('./peers/idle-replica.js', import.meta.url));

export interface PeerResult {
  replicas: number;
  runs: number;
  failedReplicas: Spread;
  /** Runs in which some migration was recorded twice or the backfill ran twice. */
  runsWithDoubleApplication: number;
  wallMs: Spread;
  sampleErrors: string[];
}

export interface RolloutResults {
  rollout16VsOne: Spread & { replicas: number; oneMs: Spread; manyMs: Spread };
  /** The same rollout in transaction mode `each` (session lock, release NOTIFY) ÷ 1 replica in `each`. */
  rollout16EachVsOne: Spread & { replicas: number; oneMs: Spread; manyMs: Spread };
  /**
   * The 16-replica rollout ÷ the same algorithm written with raw `pg` only (peers/raw-rollout-replica),
   * same migrations and release. `raw16VsOne`: that floor's own 16 ÷ 1, what this machine allows.
   */
  rollout16VsRaw: Spread & {
    replicas: number;
    rawOneMs: Spread;
    rawManyMs: Spread;
    raw16VsOne: Spread;
    /** CPU ms of the median replica from release to ready, module and raw (where the wall goes on 2 cores). */
    cpuMsPerReplica: Spread;
    rawCpuMsPerReplica: Spread;
    /**
     * Where the difference goes (peers/nest-raw-rollout-replica): the same raw algorithm in 16
     * processes of the reference service's application context. `vsNestRaw`: the rollout ÷ those,
     * the module's path over the algorithm in the same kind of process; `nestRawVsRaw`: those ÷ the
     * bare raw rollout, what the Nest + TypeORM process itself costs.
     */
    nestRawManyMs: Spread;
    nestRawCpuMsPerReplica: Spread;
    vsNestRaw: Spread;
    nestRawVsRaw: Spread;
    /**
     * A diagnostic: the same rollout without the migration history (`historyTable: false`,
     * `validate: 'off'`), which the raw algorithm does not keep: the holder's checksums and history
     * rows (and, on these fresh databases, the history table made), and the drift check each
     * replica runs after its run, off its path to ready but on the cores the replicas still
     * starting share. `noHistoryVsNestRaw`: those ÷ nest-raw.
     */
    noHistoryManyMs: Spread;
    noHistoryCpuMsPerReplica: Spread;
    noHistoryVsNestRaw: Spread;
    /**
     * The same comparisons on CPU instead of wall time: per run, the median replica's CPU from
     * release to ready ÷ the nest-raw one's, with the history (`cpuVsNestRaw`) and without it
     * (`noHistoryCpuVsNestRaw`). A replica's own CPU does not count the others' drift checks on
     * shared cores. Steadier than the wall ratios for the rollout; a follower's baseline is a
     * fraction of a ms of CPU, so its ratio still moves between runs.
     */
    cpuVsNestRaw: Spread;
    noHistoryCpuVsNestRaw: Spread;
  };
  followers16VsOne: Spread & { replicas: number; oneMs: Spread; manyMs: Spread };
  /**
   * 16 followers ÷ 16 raw-pg processes that only read the migrations table, released the same way:
   * what the library costs over the least any replica must do. `raw16VsOne` is that floor's own
   * 16 ÷ 1 ratio, i.e. what this machine's cores allow for 16 processes at all.
   */
  followers16VsRaw: Spread & {
    replicas: number;
    rawManyMs: Spread;
    raw16VsOne: Spread;
    cpuMsPerReplica: Spread;
    rawCpuMsPerReplica: Spread;
    /**
     * Where the difference goes (peers/nest-raw-read-replica): 16 processes of the reference
     * service's application context whose phase is only the raw reader's read. `vsNestRaw`:
     * followers ÷ those, the follower path over the read in the same process; `nestRawVsRaw`:
     * those ÷ the bare raw readers, what the Nest + TypeORM process itself costs.
     */
    nestRawManyMs: Spread;
    nestRawCpuMsPerReplica: Spread;
    vsNestRaw: Spread;
    nestRawVsRaw: Spread;
    /**
     * One step further (peers/nest-pool-read-replica): the same process reading on a client of the
     * app's own TypeORM pool, checked out and given back, no QueryRunner. `vsNestPool`: followers ÷
     * those, what the follower path costs over the least a library on the app's DataSource does;
     * `nestPoolVsNestRaw`: those ÷ nest-raw, what the pool's checkout costs over a client of its own.
     */
    nestPoolManyMs: Spread;
    nestPoolCpuMsPerReplica: Spread;
    vsNestPool: Spread;
    nestPoolVsNestRaw: Spread;
    /**
     * A diagnostic (peers/warm-follower-replica): followers whose runner followed once before the
     * release, so that their path's code is compiled. `vsWarm`: followers ÷ those, what the first
     * call of the path costs (V8 compiles each function then); `warmVsNestPool`: those ÷ the pool
     * read, what the compiled path costs over it.
     */
    warmManyMs: Spread;
    warmCpuMsPerReplica: Spread;
    vsWarm: Spread;
    warmVsNestPool: Spread;
    /** A diagnostic, as the rollout's: followers without the history, ÷ nest-raw. */
    noHistoryManyMs: Spread;
    noHistoryCpuMsPerReplica: Spread;
    noHistoryVsNestRaw: Spread;
    /** As the rollout's: the median follower's CPU ÷ the nest-raw reader's, per run. */
    cpuVsNestRaw: Spread;
    noHistoryCpuVsNestRaw: Spread;
  };
  /**
   * 16 replicas that do nothing (peers/idle-replica: answer the release at once, no database) ÷ 1:
   * what waking 16 processes and hearing back from them costs on this machine, before any work.
   */
  release16VsOne: Spread & { replicas: number; oneMs: Spread; manyMs: Spread };
  extraConnectionsWhileMigrating: { all: number; each: number };
  peers: {
    migrationLock: PeerResult;
    typeormNoLock: PeerResult;
    nodePgMigrate: PeerResult;
    nodePgMigrateWait: PeerResult;
  };
  /** The median 16-replica rollout (mode all), for the timeline chart. */
  timeline: ReplicaReport[];
}

/** A fresh database for one run; dropped when `work` ends. */
async function withFreshDatabase<T>(
  serverUrl: string,
  work: (url: string) => Promise<T>,
): Promise<T> {
  const name = `bench_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  try {
    return await work(withDatabase(serverUrl, name));
  } finally {
    await withClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }
}

interface FleetRun {
  reports: ReplicaReport[];
  wallMs: number;
  /** The median replica's CPU ms from the release to ready: on 2 cores, what 16 of them queue for. */
  cpuMs: number;
  /**
   * From the release until the parent has every answer, on the parent's own clock (unrounded):
   * for replicas with nothing to do, whose `migratedAt` (the child's clock) can fall within the
   * clocks' skew of the release, so that wallMs reads 0.
   */
  answeredMs: number;
}

/**
 * Loads and connects `replicas` processes, releases them together, measures until all finished.
 * With `sample`, counts each replica's connections all along (in runs that are not timed: the
 * sampling loop would take a core from the replicas).
 */
async function fleetRun(
  url: string,
  replicas: number,
  config: Omit<ReplicaConfig, 'databaseUrl'>,
  entry?: string,
): Promise<FleetRun> {
  // The standalone runner (no HTTP server): what is measured is the migration phase itself.
  const fleet = await launchFleet(replicas, { databaseUrl: url, http: false, ...config }, entry);
  const released = performance.now();
  const reports = await fleet.release();
  const answeredMs = performance.now() - released;
  await fleet.stop();
  return {
    reports,
    answeredMs,
    wallMs: Math.max(...reports.map((r) => r.migratedMs ?? r.atMs)),
    cpuMs: median(reports.map((r) => r.cpuMs ?? 0)),
  };
}

/** Most connections any one replica had open at once during a rollout on a fresh database. */
async function peakConnections(
  serverUrl: string,
  replicas: number,
  config: Omit<ReplicaConfig, 'databaseUrl'>,
): Promise<number> {
  return withFreshDatabase(serverUrl, async (url) => {
    const fleet = await launchFleet(replicas, { databaseUrl: url, http: false, ...config });
    const sampler = await connectionSampler(url);
    await fleet.release();
    const peak = await sampler.stop();
    await fleet.stop();
    return peak;
  });
}

async function connectionSampler(url: string): Promise<{ stop(): Promise<number> }> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-sampler' });
  client.on('error', () => undefined);
  await client.connect();
  let running = true;
  let peak = 0;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database()
            AND application_name LIKE 'clusters-api:%' GROUP BY application_name ORDER BY 1 DESC LIMIT 1`,
      );
      peak = Math.max(peak, rows[0]?.n ?? 0);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await client.end();
      return peak;
    },
  };
}

async function doubleApplied(url: string, table: string): Promise<boolean> {
  return withClient(url, async (client) => {
    const runs = await client
      .query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${table} GROUP BY name HAVING count(*) > 1`,
      )
      .then((r) => r.rowCount ?? 0)
      .catch(() => 0);
    const generation = await client
      .query<{ generation: number }>(`SELECT generation FROM clusters WHERE name = 'default'`)
      .then((r) => r.rows[0]?.generation ?? 1)
      .catch(() => 1);
    return runs > 0 || generation > 1;
  });
}

const ratio = (many: number[], one: number[]) => many.map((m, i) => m / one[i]);

/** The wall ms and the median replica's CPU ms of one kind of fleet, run after run. */
class FleetSeries {
  readonly wallMs: number[] = [];
  readonly cpuMs: number[] = [];

  add(run: FleetRun): FleetRun {
    this.wallMs.push(run.wallMs);
    this.cpuMs.push(run.cpuMs);
    return run;
  }
}

export async function benchRollout(
  serverUrl: string,
  options: { runs: number; replicas: number },
): Promise<RolloutResults> {
  const { runs, replicas } = options;
  const one: number[] = [];
  const many = new FleetSeries();
  const manyRuns: FleetRun[] = [];
  const lockDoubles: boolean[] = [];
  const rawOne: number[] = [];
  const rawMany = new FleetSeries();
  const nestRawMany = new FleetSeries();
  const noHistoryMany = new FleetSeries();
  const noHistory = { validate: 'off', historyTable: false } as const;
  const eachOne: number[] = [];
  const eachMany: number[] = [];
  const each = { transaction: 'each' } as const;
  for (let run = 0; run < runs; run++) {
    one.push((await withFreshDatabase(serverUrl, (url) => fleetRun(url, 1, {}))).wallMs);
    const fleet = await withFreshDatabase(serverUrl, async (url) => {
      const result = await fleetRun(url, replicas, {});
      lockDoubles.push(await doubleApplied(url, 'migrations'));
      return result;
    });
    manyRuns.push(many.add(fleet));
    eachOne.push((await withFreshDatabase(serverUrl, (url) => fleetRun(url, 1, each))).wallMs);
    eachMany.push(
      (await withFreshDatabase(serverUrl, (url) => fleetRun(url, replicas, each))).wallMs,
    );
    rawOne.push(
      (await withFreshDatabase(serverUrl, (url) => fleetRun(url, 1, {}, RAW_ROLLOUT_REPLICA)))
        .wallMs,
    );
    rawMany.add(
      await withFreshDatabase(serverUrl, (url) => fleetRun(url, replicas, {}, RAW_ROLLOUT_REPLICA)),
    );
    nestRawMany.add(
      await withFreshDatabase(serverUrl, (url) =>
        fleetRun(url, replicas, {}, NEST_RAW_ROLLOUT_REPLICA),
      ),
    );
    noHistoryMany.add(
      await withFreshDatabase(serverUrl, (url) => fleetRun(url, replicas, noHistory)),
    );
  }
  // Followers, the raw-read floor and the harness's own floor, interleaved on one migrated database.
  const followers = await withFreshDatabase(serverUrl, async (url) => {
    await fleetRun(url, 1, {});
    const result = {
      one: [] as number[],
      many: new FleetSeries(),
      rawOne: [] as number[],
      rawMany: new FleetSeries(),
      idleOne: [] as number[],
      idleMany: [] as number[],
      nestRawMany: new FleetSeries(),
      nestPoolMany: new FleetSeries(),
      warmMany: new FleetSeries(),
      noHistoryMany: new FleetSeries(),
    };
    for (let run = 0; run < runs; run++) {
      result.one.push((await fleetRun(url, 1, {})).wallMs);
      result.many.add(await fleetRun(url, replicas, {}));
      result.rawOne.push((await fleetRun(url, 1, {}, RAW_READ_REPLICA)).wallMs);
      result.rawMany.add(await fleetRun(url, replicas, {}, RAW_READ_REPLICA));
      result.nestRawMany.add(await fleetRun(url, replicas, {}, NEST_RAW_READ_REPLICA));
      result.nestPoolMany.add(await fleetRun(url, replicas, {}, NEST_POOL_READ_REPLICA));
      result.warmMany.add(await fleetRun(url, replicas, {}, WARM_FOLLOWER_REPLICA));
      result.noHistoryMany.add(await fleetRun(url, replicas, noHistory));
      result.idleOne.push((await fleetRun(url, 1, {}, IDLE_REPLICA)).answeredMs);
      result.idleMany.push((await fleetRun(url, replicas, {}, IDLE_REPLICA)).answeredMs);
    }
    return result;
  });
  const peakAll = await peakConnections(serverUrl, replicas, {});
  const peakEach = await peakConnections(serverUrl, replicas, { transaction: 'each' });
  const medianRun = [...manyRuns].sort((a, b) => a.wallMs - b.wallMs)[
    Math.floor(manyRuns.length / 2)
  ];
  return {
    rollout16VsOne: {
      ...spread(ratio(many.wallMs, one)),
      replicas,
      oneMs: spread(one),
      manyMs: spread(many.wallMs),
    },
    rollout16EachVsOne: {
      ...spread(ratio(eachMany, eachOne)),
      replicas,
      oneMs: spread(eachOne),
      manyMs: spread(eachMany),
    },
    rollout16VsRaw: {
      ...spread(ratio(many.wallMs, rawMany.wallMs)),
      replicas,
      rawOneMs: spread(rawOne),
      rawManyMs: spread(rawMany.wallMs),
      raw16VsOne: spread(ratio(rawMany.wallMs, rawOne)),
      cpuMsPerReplica: spread(many.cpuMs),
      rawCpuMsPerReplica: spread(rawMany.cpuMs),
      nestRawManyMs: spread(nestRawMany.wallMs),
      nestRawCpuMsPerReplica: spread(nestRawMany.cpuMs),
      vsNestRaw: spread(ratio(many.wallMs, nestRawMany.wallMs)),
      nestRawVsRaw: spread(ratio(nestRawMany.wallMs, rawMany.wallMs)),
      noHistoryManyMs: spread(noHistoryMany.wallMs),
      noHistoryCpuMsPerReplica: spread(noHistoryMany.cpuMs),
      noHistoryVsNestRaw: spread(ratio(noHistoryMany.wallMs, nestRawMany.wallMs)),
      cpuVsNestRaw: spread(ratio(many.cpuMs, nestRawMany.cpuMs)),
      noHistoryCpuVsNestRaw: spread(ratio(noHistoryMany.cpuMs, nestRawMany.cpuMs)),
    },
    followers16VsOne: {
      ...spread(ratio(followers.many.wallMs, followers.one)),
      replicas,
      oneMs: spread(followers.one),
      manyMs: spread(followers.many.wallMs),
    },
    followers16VsRaw: {
      ...spread(ratio(followers.many.wallMs, followers.rawMany.wallMs)),
      replicas,
      rawManyMs: spread(followers.rawMany.wallMs),
      raw16VsOne: spread(ratio(followers.rawMany.wallMs, followers.rawOne)),
      cpuMsPerReplica: spread(followers.many.cpuMs),
      rawCpuMsPerReplica: spread(followers.rawMany.cpuMs),
      nestRawManyMs: spread(followers.nestRawMany.wallMs),
      nestRawCpuMsPerReplica: spread(followers.nestRawMany.cpuMs),
      vsNestRaw: spread(ratio(followers.many.wallMs, followers.nestRawMany.wallMs)),
      nestRawVsRaw: spread(ratio(followers.nestRawMany.wallMs, followers.rawMany.wallMs)),
      nestPoolManyMs: spread(followers.nestPoolMany.wallMs),
      nestPoolCpuMsPerReplica: spread(followers.nestPoolMany.cpuMs),
      vsNestPool: spread(ratio(followers.many.wallMs, followers.nestPoolMany.wallMs)),
      nestPoolVsNestRaw: spread(ratio(followers.nestPoolMany.wallMs, followers.nestRawMany.wallMs)),
      warmManyMs: spread(followers.warmMany.wallMs),
      warmCpuMsPerReplica: spread(followers.warmMany.cpuMs),
      vsWarm: spread(ratio(followers.many.wallMs, followers.warmMany.wallMs)),
      warmVsNestPool: spread(ratio(followers.warmMany.wallMs, followers.nestPoolMany.wallMs)),
      noHistoryManyMs: spread(followers.noHistoryMany.wallMs),
      noHistoryCpuMsPerReplica: spread(followers.noHistoryMany.cpuMs),
      noHistoryVsNestRaw: spread(
        ratio(followers.noHistoryMany.wallMs, followers.nestRawMany.wallMs),
      ),
      cpuVsNestRaw: spread(ratio(followers.many.cpuMs, followers.nestRawMany.cpuMs)),
      noHistoryCpuVsNestRaw: spread(
        ratio(followers.noHistoryMany.cpuMs, followers.nestRawMany.cpuMs),
      ),
    },
    release16VsOne: {
      ...spread(ratio(followers.idleMany, followers.idleOne)),
      replicas,
      oneMs: spread(followers.idleOne),
      manyMs: spread(followers.idleMany),
    },
    extraConnectionsWhileMigrating: {
      all: Math.max(0, peakAll - 1),
      each: Math.max(0, peakEach - 1),
    },
    peers: {
      migrationLock: peerResult(manyRuns, lockDoubles, replicas),
      typeormNoLock: await peer(serverUrl, options, { mode: 'unlocked' }, undefined, 'migrations'),
      nodePgMigrate: await peer(serverUrl, options, {}, NODE_PG_MIGRATE_REPLICA, 'pgmigrations'),
      nodePgMigrateWait: await peer(
        serverUrl,
        options,
        {},
        NODE_PG_MIGRATE_WAIT_REPLICA,
        'pgmigrations',
      ),
    },
    timeline: medianRun.reports,
  };
}

async function peer(
  serverUrl: string,
  options: { runs: number; replicas: number },
  config: Omit<ReplicaConfig, 'databaseUrl'>,
  entry: string | undefined,
  table: string,
): Promise<PeerResult> {
  const fleetRuns: FleetRun[] = [];
  const doubles: boolean[] = [];
  for (let run = 0; run < options.runs; run++) {
    await withFreshDatabase(serverUrl, async (url) => {
      fleetRuns.push(await fleetRun(url, options.replicas, config, entry));
      doubles.push(await doubleApplied(url, table));
    });
  }
  return peerResult(fleetRuns, doubles, options.replicas);
}

function peerResult(fleetRuns: FleetRun[], doubles: boolean[], replicas: number): PeerResult {
  const errors = fleetRuns.flatMap((r) =>
    r.reports.filter((x) => x.status === 'failed').map((x) => x.error ?? ''),
  );
  return {
    replicas,
    runs: fleetRuns.length,
    failedReplicas: spread(
      fleetRuns.map((r) => r.reports.filter((x) => x.status === 'failed').length),
    ),
    runsWithDoubleApplication: doubles.filter(Boolean).length,
    wallMs: spread(fleetRuns.map((r) => r.wallMs)),
    sampleErrors: [...new Set(errors.map((e) => e.slice(0, 120)))].slice(0, 3),
  };
}
