import { readFileSync } from 'node:fs';
import type { ReplicaReport } from '../reference/demo/fleet.js';
import { formatTable } from '../reference/demo/format-table.js';
import type { HistoryBenchResults } from './history.bench.js';
import type { JobTickResults } from './job-tick.bench.js';
import type { LatencyResults } from './lock-latency.bench.js';
import type { ManyMigrationsResults } from './many-migrations.bench.js';
import type { OtelResults } from './otel.bench.js';
import type { PeerResult, RolloutResults } from './rollout.bench.js';
import { percentile } from './stats.js';
import type { TestDatabaseResults } from './test-database.bench.js';
import type { TenantBenchResults } from './tenants.bench.js';

export type BenchResults = Omit<LatencyResults, 'handoffSamplesUs'> &
  JobTickResults &
  OtelResults &
  Omit<RolloutResults, 'timeline'> &
  ManyMigrationsResults &
  HistoryBenchResults &
  TenantBenchResults &
  TestDatabaseResults & {
    testDatabaseVsMigrate200: {
      ratio: number;
      /** A cold call (no spare ready: a clone) ÷ the same migration run. */
      coldRatio: number;
      testDatabaseMs: number;
      migrateMs: number;
      migrations: number;
    };
    machine: string;
    command: string;
    postgres: string;
  };

const TARGETS: Record<string, string> = {
  withLockVsRaw: '≤ 1.0',
  handoffVsRaw: '≤ 1.5',
  handoffEachVsRaw: '–',
  jobTickOverheadVsRaw: '≤ 1.2',
  withLockOtelNoopVsOff: '≤ 1.05',
  withLockOtelSdkVsOff: 'report',
  // On 2 cores, 16 processes that do nothing take 8–16 × one: these are reported against the
  // machine's own floor (…VsRaw), not against one replica.
  rollout16VsOne: '–',
  followers16VsOne: '–',
  rollout16EachVsOne: '–',
  rollout16VsRaw: '≤ 1.15',
  followers16VsRaw: '≤ 1.10',
  release16VsOne: '–',
  manyMigrationsVsTypeorm: 'all ≤ 0.9, each ≤ 1.0',
  validate500Ms: '≤ 20 ms',
  bootValidateVsOff: '≤ 1.1',
  tenants1000VsTypeormLoop: '≤ 0.5',
  tenantsFleet4VsOne: 'report',
  tenantOverheadVsRaw: '≤ 1.2',
  testDatabaseVsRawTemplate: '≤ 1.2',
  testDatabaseVsMigrate200: '≤ 0.05',
};

const fmt = (spread: { median: number; min: number; max: number }) =>
  `${spread.median.toFixed(2)} (${spread.min.toFixed(2)}–${spread.max.toFixed(2)})`;

/** A median wall time in ms: one decimal is all that a noisy machine's milliseconds are worth. */
const ms = (spread: { median: number }) => `${spread.median.toFixed(1)} ms`;

type ManyMigrations = BenchResults['manyMigrationsVsTypeorm'];

/** Both modes per TypeORM version, listed with the repository's 1.x first, then 0.3. */
const manyMigrationsPasses = (many: ManyMigrations) => [
  many,
  ...(many.typeorm03 ? [many.typeorm03] : []),
];

const manyMigrationsRatios = (many: ManyMigrations) =>
  manyMigrationsPasses(many)
    .map((pass) => `TypeORM ${pass.typeorm}: all ${fmt(pass.all)}, each ${fmt(pass.each)}`)
    .join('; ');

const manyMigrationsTimes = (many: ManyMigrations) =>
  manyMigrationsPasses(many)
    .map(
      (pass) =>
        `TypeORM ${pass.typeorm}: all ${ms({ median: pass.all.moduleMs })} vs its runMigrations ${ms({ median: pass.all.typeormMs })} (raw-pg floor ${ms({ median: pass.all.rawMs })}: module ${pass.all.moduleVsRaw.toFixed(2)}, TypeORM ${pass.all.typeormVsRaw.toFixed(2)} of it), each ${ms({ median: pass.each.moduleMs })} vs ${ms({ median: pass.each.typeormMs })} (floor ${ms({ median: pass.each.rawMs })}: ${pass.each.moduleVsRaw.toFixed(2)}, ${pass.each.typeormVsRaw.toFixed(2)})`,
    )
    .join('; ');

/** The figures as rows: ratio (median, min–max), target, raw figures beside it. */
export function figureRows(r: BenchResults): string[][] {
  return [
    [
      'withLockVsRaw',
      fmt(r.withLockVsRaw),
      TARGETS.withLockVsRaw,
      `withLock ${r.withLockVsRaw.withLockMedianUs} µs vs raw ${r.withLockVsRaw.rawMedianUs} µs (median, after ${r.withLockVsRaw.warmUpCalls} warm-up calls each; first calls of a process: ${r.withLockVsRaw.coldMedian.toFixed(2)})`,
    ],
    [
      'jobTickOverheadVsRaw',
      fmt(r.jobTickOverheadVsRaw),
      TARGETS.jobTickOverheadVsRaw,
      `@WithAdvisoryLock no-op job ${r.jobTickOverheadVsRaw.jobMedianUs} µs vs raw BEGIN; pg_try_advisory_xact_lock; COMMIT ${r.jobTickOverheadVsRaw.rawMedianUs} µs (median, after ${r.jobTickOverheadVsRaw.warmUpCalls} warm-up calls each)`,
    ],
    [
      'withLockOtelNoopVsOff',
      fmt(r.withLockOtelNoopVsOff),
      TARGETS.withLockOtelNoopVsOff,
      `withLock ${r.withLockOtelNoopVsOff.noopMedianUs} µs with @opentelemetry/api and no SDK vs ${r.withLockOtelNoopVsOff.offMedianUs} µs without it (medians of 4 processes of each kind per run, warmed up)`,
    ],
    [
      'withLockOtelSdkVsOff',
      fmt(r.withLockOtelSdkVsOff),
      TARGETS.withLockOtelSdkVsOff,
      `withLock ${r.withLockOtelSdkVsOff.sdkMedianUs} µs with the SDK (a span and metrics per call, in-memory exporters) vs ${r.withLockOtelSdkVsOff.offMedianUs} µs without the API`,
    ],
    [
      'handoffVsRaw',
      fmt(r.handoffVsRaw),
      TARGETS.handoffVsRaw,
      `p50 ${r.handoffVsRaw.p50Us} µs / p99 ${r.handoffVsRaw.p99Us} µs vs raw ${r.handoffVsRaw.rawP50Us} / ${r.handoffVsRaw.rawP99Us} µs`,
    ],
    [
      'handoffEachVsRaw',
      fmt(r.handoffEachVsRaw),
      TARGETS.handoffEachVsRaw,
      `mode each (NOTIFY): p50 ${r.handoffEachVsRaw.p50Us} µs / p99 ${r.handoffEachVsRaw.p99Us} µs vs raw blocking session lock ${r.handoffEachVsRaw.rawP50Us} / ${r.handoffEachVsRaw.rawP99Us} µs`,
    ],
    [
      'rollout16VsOne',
      fmt(r.rollout16VsOne),
      TARGETS.rollout16VsOne,
      `${r.rollout16VsOne.replicas} replicas ${ms(r.rollout16VsOne.manyMs)} vs 1 replica ${ms(r.rollout16VsOne.oneMs)}`,
    ],
    [
      'rollout16EachVsOne',
      fmt(r.rollout16EachVsOne),
      TARGETS.rollout16EachVsOne,
      `mode each: ${r.rollout16EachVsOne.replicas} replicas ${ms(r.rollout16EachVsOne.manyMs)} vs 1 replica ${ms(r.rollout16EachVsOne.oneMs)}`,
    ],
    [
      'rollout16VsRaw',
      fmt(r.rollout16VsRaw),
      TARGETS.rollout16VsRaw,
      `${r.rollout16VsRaw.replicas} replicas ${ms(r.rollout16VsOne.manyMs)} vs the same algorithm on raw pg ${ms(r.rollout16VsRaw.rawManyMs)} (1 replica: ${ms(r.rollout16VsRaw.rawOneMs)}); raw pg's own ${r.rollout16VsRaw.replicas} ÷ 1 is ${fmt(r.rollout16VsRaw.raw16VsOne)}; CPU of the median replica from release to ready ${ms(r.rollout16VsRaw.cpuMsPerReplica)} vs raw ${ms(r.rollout16VsRaw.rawCpuMsPerReplica)}. Where it goes: the same raw algorithm in 16 processes of the service's own application context ${ms(r.rollout16VsRaw.nestRawManyMs)} (CPU ${ms(r.rollout16VsRaw.nestRawCpuMsPerReplica)}), so the Nest + TypeORM process costs ${fmt(r.rollout16VsRaw.nestRawVsRaw)} × the bare raw rollout and the module's path ${fmt(r.rollout16VsRaw.vsNestRaw)} × the raw algorithm in its own process. Without the history (\`historyTable: false\`, \`validate: 'off'\`) ${ms(r.rollout16VsRaw.noHistoryManyMs)} (CPU ${ms(r.rollout16VsRaw.noHistoryCpuMsPerReplica)}), ${fmt(r.rollout16VsRaw.noHistoryVsNestRaw)} × the raw algorithm in its own process. On CPU (the median replica's, per run): ${fmt(r.rollout16VsRaw.cpuVsNestRaw)} × the raw algorithm in its own process, without the history ${fmt(r.rollout16VsRaw.noHistoryCpuVsNestRaw)}`,
    ],
    [
      'followers16VsOne',
      fmt(r.followers16VsOne),
      TARGETS.followers16VsOne,
      `${r.followers16VsOne.replicas} followers ${ms(r.followers16VsOne.manyMs)} vs 1 follower ${ms(r.followers16VsOne.oneMs)}`,
    ],
    [
      'followers16VsRaw',
      fmt(r.followers16VsRaw),
      TARGETS.followers16VsRaw,
      `${r.followers16VsRaw.replicas} followers ${ms(r.followers16VsOne.manyMs)} vs ${r.followers16VsRaw.replicas} raw-pg readers of the migrations table ${ms(r.followers16VsRaw.rawManyMs)}; the raw readers' own ${r.followers16VsRaw.replicas} ÷ 1 is ${fmt(r.followers16VsRaw.raw16VsOne)}; CPU of the median follower ${ms(r.followers16VsRaw.cpuMsPerReplica)} vs raw ${ms(r.followers16VsRaw.rawCpuMsPerReplica)}. Where it goes: 16 processes of the same Nest application context doing only the raw read ${ms(r.followers16VsRaw.nestRawManyMs)} (CPU ${ms(r.followers16VsRaw.nestRawCpuMsPerReplica)}), so the Nest + TypeORM process costs ${fmt(r.followers16VsRaw.nestRawVsRaw)} × the bare reader and the follower path ${fmt(r.followers16VsRaw.vsNestRaw)} × the read in its own process; the same read on a client of the app's TypeORM pool ${ms(r.followers16VsRaw.nestPoolManyMs)} (CPU ${ms(r.followers16VsRaw.nestPoolCpuMsPerReplica)}), ${fmt(r.followers16VsRaw.nestPoolVsNestRaw)} × the read on a client of its own, and the follower path ${fmt(r.followers16VsRaw.vsNestPool)} × that pool read. Followers whose runner had followed once before (its code compiled) ${ms(r.followers16VsRaw.warmManyMs)} (CPU ${ms(r.followers16VsRaw.warmCpuMsPerReplica)}): the first call costs ${fmt(r.followers16VsRaw.vsWarm)} × a compiled one, and the compiled path ${fmt(r.followers16VsRaw.warmVsNestPool)} × the pool read. Without the history ${ms(r.followers16VsRaw.noHistoryManyMs)} (CPU ${ms(r.followers16VsRaw.noHistoryCpuMsPerReplica)}), ${fmt(r.followers16VsRaw.noHistoryVsNestRaw)} × the read in its own process. On CPU (the median follower's, per run): ${fmt(r.followers16VsRaw.cpuVsNestRaw)} × the read in its own process, without the history ${fmt(r.followers16VsRaw.noHistoryCpuVsNestRaw)}`,
    ],
    [
      'release16VsOne',
      fmt(r.release16VsOne),
      TARGETS.release16VsOne,
      `${r.release16VsOne.replicas} replicas that do nothing but answer the release ${ms(r.release16VsOne.manyMs)} vs 1 ${ms(r.release16VsOne.oneMs)}: the harness's own floor, no database`,
    ],
    [
      'manyMigrationsVsTypeorm',
      manyMigrationsRatios(r.manyMigrationsVsTypeorm),
      TARGETS.manyMigrationsVsTypeorm,
      `${r.manyMigrationsVsTypeorm.count} migrations on a fresh database, ${manyMigrationsTimes(r.manyMigrationsVsTypeorm)}`,
    ],
    [
      'validate500Ms',
      `${r.validate500Ms.p50.toFixed(1)} ms`,
      TARGETS.validate500Ms,
      `validate() of ${r.validate500Ms.migrations} applied and recorded migrations, first call in a fresh process (p50 of ${r.validate500Ms.samples}; p90 ${r.validate500Ms.p90.toFixed(1)} ms): every up() captured, the migrations table and the history read`,
    ],
    [
      'bootValidateVsOff',
      r.bootValidateVsOff.ratio.toFixed(2),
      TARGETS.bootValidateVsOff,
      `a replica's start with nothing pending and ${r.bootValidateVsOff.migrations} applied migrations, process start to ready, validate 'warn' ${r.bootValidateVsOff.warnMs.toFixed(1)} ms vs 'off' ${r.bootValidateVsOff.offMs.toFixed(1)} ms (median of per-pair ratios, ${r.bootValidateVsOff.samples} pairs); from after the imports (connect, Nest context, bootstrap run) ${r.bootValidateVsOff.warnInitMs.toFixed(1)} vs ${r.bootValidateVsOff.offInitMs.toFixed(1)} ms, ${r.bootValidateVsOff.initRatio.toFixed(2)}. 'warn' checks after the start; 'fail' checks before it: ${r.bootValidateVsOff.failMs.toFixed(1)} ms, ${r.bootValidateVsOff.failRatio.toFixed(2)} (after the imports ${r.bootValidateVsOff.failInitRatio.toFixed(2)})`,
    ],
    [
      'tenants1000VsTypeormLoop',
      r.tenants1000VsTypeormLoop.ratio.toFixed(2),
      TARGETS.tenants1000VsTypeormLoop,
      `${r.tenants1000VsTypeormLoop.tenants} tenant schemas × ${r.tenants1000VsTypeormLoop.migrations} migrations: one process with the module (concurrency ${r.tenants1000VsTypeormLoop.concurrency}) ${(r.tenants1000VsTypeormLoop.moduleMs / 1000).toFixed(1)} s vs the loop users write (a DataSource per schema, runMigrations(), destroy()) ${(r.tenants1000VsTypeormLoop.typeormMs / 1000).toFixed(1)} s, each timed after its imports`,
    ],
    [
      'tenantsFleet4VsOne',
      r.tenantsFleet4VsOne.ratio.toFixed(2),
      TARGETS.tenantsFleet4VsOne,
      `the same ${r.tenantsFleet4VsOne.tenants} schemas by 4 processes started at once ${(r.tenantsFleet4VsOne.fleetMs / 1000).toFixed(1)} s vs 1 ${(r.tenantsFleet4VsOne.oneMs / 1000).toFixed(1)} s, spawn to last exit; tenants each migrated: ${r.tenantsFleet4VsOne.shares.join(', ')} (2 cores here: the server bounds it)`,
    ],
    [
      'tenantOverheadVsRaw',
      r.tenantOverheadVsRaw.ratio.toFixed(2),
      TARGETS.tenantOverheadVsRaw,
      `per tenant, the service at concurrency 1 ${r.tenantOverheadVsRaw.moduleMsPerTenant.toFixed(2)} ms vs one raw pg client sending the same statements ${r.tenantOverheadVsRaw.rawMsPerTenant.toFixed(2)} ms (${r.tenantOverheadVsRaw.tenants} tenants, median of ${r.tenantOverheadVsRaw.runs} interleaved pairs)`,
    ],
    [
      'testDatabaseVsRawTemplate',
      fmt(r.testDatabaseVsRawTemplate),
      TARGETS.testDatabaseVsRawTemplate,
      `createTestDatabase p50 ${r.testDatabaseMs.p50.toFixed(1)} ms with the spare cloned ahead ready (testDatabaseMs, ${r.testDatabaseMs.samples} samples, template warm; cold, cloning: ${r.testDatabaseMs.coldP50.toFixed(1)} ms, ${r.testDatabaseVsRawTemplate.cold.toFixed(2)}) vs raw CREATE DATABASE … TEMPLATE + first connect ${r.testDatabaseVsRawTemplate.rawP50Ms.toFixed(1)} ms`,
    ],
    [
      'testDatabaseVsMigrate200',
      r.testDatabaseVsMigrate200.ratio.toFixed(3),
      TARGETS.testDatabaseVsMigrate200,
      `a test database ${r.testDatabaseVsMigrate200.testDatabaseMs.toFixed(1)} ms (cold, cloning: ${r.testDatabaseVsMigrate200.coldRatio.toFixed(3)}) vs migrating a fresh one with ${r.testDatabaseVsMigrate200.migrations} migrations ${r.testDatabaseVsMigrate200.migrateMs.toFixed(1)} ms`,
    ],
    [
      'extraConnectionsWhileMigrating',
      `all ${r.extraConnectionsWhileMigrating.all}, each ${r.extraConnectionsWhileMigrating.each}`,
      '0',
      'peak connections per replica beyond one, sampled',
    ],
  ];
}

export function peerRows(r: BenchResults): string[][] {
  const row = (name: string, p: PeerResult) => [
    name,
    `${p.failedReplicas.median} of ${p.replicas} (${p.failedReplicas.min}–${p.failedReplicas.max})`,
    `${p.runsWithDoubleApplication} of ${p.runs} runs`,
    `${Math.round(p.wallMs.median)} ms`,
    p.sampleErrors.join(' | ') || '–',
  ];
  return [
    row('nestjs-migration-lock', r.peers.migrationLock),
    row('TypeORM runMigrations (no lock)', r.peers.typeormNoLock),
    row('node-pg-migrate (its advisory lock, default mode fail)', r.peers.nodePgMigrate),
    row('node-pg-migrate (advisoryLockMode wait)', r.peers.nodePgMigrateWait),
  ];
}

export function textReport(r: BenchResults): string {
  return [
    formatTable(['figure', 'ratio median (min–max)', 'target', 'raw figures'], figureRows(r)),
    '',
    formatTable(
      [
        'peer, same migrations and replicas',
        'replicas failed',
        'double application',
        'wall time',
        'errors seen',
      ],
      peerRows(r),
    ),
  ].join('\n');
}

const mdTable = (header: string[], rows: string[][]) =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
  ].join('\n');

/** The figures behind choices in the code: hand-written, kept when the report is regenerated. */
const DESIGN_FIGURES = readFileSync(
  new URL('../../bench/design-figures.md', import.meta.url),
  'utf8',
);

export function markdownReport(r: BenchResults, chartFile: string): string {
  return `# Benchmarks

Measured by \`${r.command}\` on ${r.machine}, against ${r.postgres}. Every figure is a ratio
against a baseline measured in the same run (raw \`pg\`, or one replica), as the median of the runs
with min–max: the machine is small and noisy, so ratios matter and absolute numbers do not.

${mdTable(['figure', 'ratio median (min–max)', 'target', 'raw figures'], figureRows(r))}

## Peers on the same migrations and replica count

${mdTable(['peer', 'replicas failed', 'double application', 'wall time', 'errors seen'], peerRows(r))}

![rollout timeline and hand-off latency](${chartFile})

Reading the rollout figures: the replicas are processes on this machine. With 16 replicas on a
machine with 2 cores, the CPU each replica needs after the release (waking up, one read of the
migrations table, the lock round trips) is served 8 replicas per core, one after another, so the
16-replica wall time grows with the replica count even though no replica queues behind another:
waiters are released together by a shared wait and followers never take the lock. The raw-\`pg\`
floors measured in the same run show it. \`rollout16VsRaw\`: the same algorithm written with one
raw \`pg\` client per process (\`bench/peers/raw-rollout-replica.ts\`: read, try the lock, apply
or wait in the shared form, read again; no Nest, no TypeORM), on the same migrations; the same
algorithm also runs inside the reference service's application context
(\`bench/peers/nest-raw-rollout-replica.ts\`), which splits the ratio into what the Nest + TypeORM
process costs (\`nestRawVsRaw\`) and what the module's path costs over it (\`vsNestRaw\`).
\`followers16VsRaw\`: 16 processes that only read the migrations table once. Their own 16 ÷ 1
ratios (\`raw16VsOne\`) are what this machine allows any 16 processes: when they are above the
≤ 1.25 and ≤ 1.10 targets, so is every implementation on this machine, raw \`pg\` included.
\`release16VsOne\` goes one step further down: 16 processes that do no work at all, only answer
the release, against one such process, timed on the parent's clock until it has every answer (their
own clocks can put such an answer within the skew of the release). Where a follower's time goes beyond the raw reader's is
split by one more peer (\`bench/peers/nest-raw-read-replica.ts\`): the reference service's whole
application context, loaded and connected as a follower's, whose phase is only the raw read.
\`nestRawVsRaw\` is what a Nest + TypeORM process costs by itself; \`vsNestRaw\` is the follower
path over the read in that same process. A last peer
(\`bench/peers/nest-pool-read-replica.ts\`) reads in that process on a client checked out of the
app's own TypeORM pool and given back, the least any library on the app's DataSource can do:
\`nestPoolVsNestRaw\` is what pg-pool's checkout costs over a client of its own, and
\`vsNestPool\` what is left of the follower path above it: the runner's first log line (Nest
makes the logger's ConsoleLogger on first use, even with the level off) and its own steps. The
diagnostic \`vsWarm\` (\`bench/peers/warm-follower-replica.ts\`: a follower whose runner followed
once before the release) splits that: V8 compiles each function on its first call, and a real
replica's start-up run is always a first call; \`warmVsNestPool\` is the follower path once
compiled, over the pool read. Both rows also give the same fleet without the migration history
(\`historyTable: false\`, \`validate: 'off'\`; \`noHistoryVsNestRaw\`), which the raw algorithm
does not keep: the holder's checksums and rows (on these fresh databases, its table made too),
and the drift check each replica runs after its run, off its own path to ready but on the cores
that 16 replicas here share with the ones still starting (a replica per node would not). The same
comparisons on CPU (\`cpuVsNestRaw\`, \`noHistoryCpuVsNestRaw\`: per run, the median replica's
CPU from release to ready ÷ the nest-raw one's) leave out what other processes spend on the
shared cores: steadier than the wall ratios for the rollout, while a follower's, over a baseline
of a fraction of a ms of CPU, still moves between runs. Every replica,
peers included, calls \`process.cpuUsage()\` once before the release: its first call in a process
costs about 0.5 ms of CPU, which would otherwise be timed.

Reading \`manyMigrationsVsTypeorm\`: a run of small migrations on a fresh database is mostly the
server's own work (each \`CREATE TABLE\` makes a table, its TOAST table and its index).
PostgreSQL 16 and older also fsync every index they build with WAL on: \`strace\` on the server
process counts 2 fsyncs per such \`CREATE TABLE\` on 15 and 16 (its primary key and its TOAST
index) and none on 17, whose bulk writer leaves new files to the checkpointer. On 14–16 the floor
is then higher than on 17 (the bench's embedded default), and every ratio nearer 1. The
raw-\`pg\` floor (\`bench/peers/raw-many-migrations.ts\`) sends the same statements, and the
migrations table's, on one client with nothing around them; \`moduleVsRaw\` and \`typeormVsRaw\` are
each side over it, per run. A side cannot go below the floor, so the best ratio any runner can
reach against TypeORM is 1 ÷ \`typeormVsRaw\`. When the server's I/O is slow (the floor doubles
for minutes after heavy churn on this machine), every side is mostly that and the ratios tend to
1. So this figure is measured first, before the rollouts make and drop hundreds of databases
(\`bench/run-bench.ts\`), and both TypeORM versions one mode at a time
(\`bench/many-migrations-versions.ts\`), so that neither gets all of the slow stretch after the
\`each\` runs.

How each figure is taken: \`bench/lock-latency.bench.ts\` (withLock and hand-off, interleaved with
raw \`pg\` clients; the waiter runs in its own process, as a waiting replica does, and is measured
only once the server shows it waiting; both sides are warmed up first — ${r.withLockVsRaw.warmUpCalls}
withLock and raw calls, and hand-offs in every form — because V8 optimizes a function only after it
has run for a while, and withLockVsRaw over a new process's first calls is shown beside it) and
\`bench/rollout.bench.ts\` (replica processes load and connect, wait at a barrier, are released
together; wall time from the release until every replica has finished its migration phase).

${DESIGN_FIGURES}`;
}

/** An SVG: one row per replica (wait, migrate, ready), and the hand-off latency distribution. */
export function svgChart(
  timeline: ReplicaReport[],
  samples: LatencyResults['handoffSamplesUs'],
): string {
  const width = 980;
  const rowHeight = 16;
  const left = 110;
  const plot = width - left - 20;
  const end = Math.max(1, ...timeline.map((r) => r.migratedMs ?? r.atMs));
  const x = (ms: number) => left + (ms / end) * plot;
  const rows = [...timeline].sort((a, b) => a.index - b.index);
  const timelineTop = 40;
  const bars = rows
    .map((r, i) => {
      const y = timelineTop + i * rowHeight;
      const waited = r.waitedMs ?? 0;
      const held = r.heldMs ?? 0;
      const readyAt = r.migratedMs ?? r.atMs;
      return [
        `<text x="${left - 8}" y="${y + 11}" text-anchor="end">r${r.index + 1}</text>`,
        `<rect x="${x(Math.max(0, readyAt - waited - held - 1))}" y="${y + 2}" width="${Math.max(1, x(waited) - left)}" height="10" fill="#c9c9c9"><title>waited ${waited} ms</title></rect>`,
        held
          ? `<rect x="${x(Math.max(0, readyAt - held - 1))}" y="${y + 2}" width="${Math.max(2, x(held) - left)}" height="10" fill="#2f6fdf"><title>migrated ${held} ms</title></rect>`
          : '',
        `<circle cx="${x(readyAt)}" cy="${y + 7}" r="3" fill="#1a9c4a"><title>ready at ${readyAt} ms</title></circle>`,
      ].join('');
    })
    .join('\n');
  const timelineBottom = timelineTop + rows.length * rowHeight;
  const axis = `<line x1="${left}" y1="${timelineBottom + 4}" x2="${left + plot}" y2="${timelineBottom + 4}" stroke="#555"/><text x="${left}" y="${timelineBottom + 18}">0 ms (release)</text><text x="${left + plot}" y="${timelineBottom + 18}" text-anchor="end">${Math.round(end)} ms</text>`;
  const distTop = timelineBottom + 60;
  const series: Array<[string, number[], string]> = [
    ['module, all', samples.all, '#2f6fdf'],
    ['raw pg, xact', samples.raw, '#888'],
    ['module, each', samples.each, '#e07b00'],
    ['raw pg, session', samples.rawSession, '#bbb'],
  ];
  const maxUs = Math.max(1, ...series.map(([, v]) => percentile(v, 99)));
  const dx = (us: number) => left + (Math.min(us, maxUs) / maxUs) * plot;
  const dist = series
    .map(([name, values, color], i) => {
      const y = distTop + i * 22;
      const dots = values
        .map(
          (v) =>
            `<circle cx="${dx(v).toFixed(1)}" cy="${y + 6}" r="2" fill="${color}" fill-opacity="0.6"/>`,
        )
        .join('');
      const p50 = percentile(values, 50);
      return `<text x="${left - 8}" y="${y + 10}" text-anchor="end" font-size="10">${name}</text>${dots}<line x1="${dx(p50)}" y1="${y - 2}" x2="${dx(p50)}" y2="${y + 14}" stroke="#000"/>`;
    })
    .join('\n');
  const height = distTop + series.length * 22 + 40;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" font-size="13" font-weight="bold">Rollout of ${rows.length} replicas released together (grey: waiting for the lock, blue: migrating, green: migration phase done)</text>
${bars}
${axis}
<text x="10" y="${distTop - 20}" font-size="14" font-weight="bold">Lock hand-off latency, holder commits → waiter's body starts (µs, p50 marked, up to p99 ${Math.round(maxUs)} µs)</text>
${dist}
</svg>
`;
}
