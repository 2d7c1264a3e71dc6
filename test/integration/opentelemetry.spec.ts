import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { Test, type TestingModule } from '@nestjs/testing';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { GATE_LOCK, SCENARIOS } from '../../reference/demo/scenario-migrations.js';
import {
  AdvisoryLockService,
  LockTimeoutError,
  MigrationLockModule,
  MigrationRunnerService,
  WithAdvisoryLock,
} from '../../src/index.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { referenceMigrations } from '../support/migration-fixtures.js';
import { holderOf, waiterOnGate, waitersFor } from '../support/observe.js';
import { parentOf, startOtelSdk, type OtelSdk } from '../support/otel.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * Telemetry as an app with the OpenTelemetry SDK sees it (in-memory exporter and reader), on a real
 * PostgreSQL: replicas are Nest apps of their own, in this process, on connections of their own.
 */
const MIGRATIONS_KEY = advisoryLockKey('migrations', 'Migrations');
const migrations = [...referenceMigrations, ...SCENARIOS.gate];
const migrationNames = migrations.map((Migration) => new Migration().name);

/** A password that shows nowhere else: a role of the test's own logs in with it. */
const PASSWORD = `otel-secret-${randomBytes(6).toString('hex')}`;
const ROLE = `otel_${randomBytes(4).toString('hex')}`;

/** `url` as the test's role, password included (trust authentication ignores it). */
const asRole = (url: string): string => {
  const parsed = new URL(url);
  parsed.username = ROLE;
  parsed.password = PASSWORD;
  return parsed.toString();
};

const named = (spans: ReadableSpan[], prefix: string) =>
  spans.filter((span) => span.name.startsWith(prefix));

describe('OpenTelemetry', () => {
  let sdk: OtelSdk;
  let db: TestDatabase;
  let observer: pg.Client;
  const apps: TestingModule[] = [];

  beforeAll(async () => {
    sdk = startOtelSdk();
    const admin = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!);
    await admin.query(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
    await admin.end();
  });
  afterAll(async () => {
    await sdk.shutdown();
    const admin = await connectClient(process.env.MIGRATION_LOCK_TEST_ADMIN_URL!);
    await admin.query(`DROP ROLE IF EXISTS ${ROLE}`);
    await admin.end();
  });

  beforeEach(async () => {
    sdk.reset();
    db = await createTestDatabase('otel');
    observer = await connectClient(db.url, 'otel-observer');
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await observer.end();
    await db.drop();
  });

  const replica = async (url = asRole(db.url)) => {
    const dataSource = new DataSource({ type: 'postgres', url, migrations });
    const app = await Test.createTestingModule({
      imports: [MigrationLockModule.forRoot({ dataSource })],
    }).compile();
    apps.push(app);
    return app;
  };

  it('a rollout of 3 apps: one apply span per migration across them, a run span each, a wait span under each follower', async () => {
    await observer.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const holder = (await replica()).init();
    await waiterOnGate(observer, GATE_LOCK);
    const followers = await Promise.all([replica(), replica()]);
    const following = followers.map((app) => app.init());
    await waitersFor(observer, MIGRATIONS_KEY, 2);
    await observer.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    await Promise.all([holder, ...following]);

    const spans = sdk.spans();
    const runs = named(spans, 'migration-lock run');
    expect(runs.map((span) => span.attributes['migration_lock.outcome']).sort()).toEqual([
      'applied',
      'followed',
      'followed',
    ]);
    for (const run of runs)
      expect(run.attributes).toMatchObject({
        'db.system.name': 'postgresql',
        'db.namespace': db.name,
        'migration_lock.mode': 'all',
        'migration_lock.lock.id': 'migrations',
        'migration_lock.lock.type': 'Migrations',
        'migration_lock.lock.keys': [...MIGRATIONS_KEY],
        'migration_lock.migrations.pending': migrations.length,
      });
    const applier = runs.find((span) => span.attributes['migration_lock.outcome'] === 'applied')!;
    const applies = named(spans, 'migration-lock apply ');
    expect(applies.map((span) => span.name).sort()).toEqual(
      migrationNames.map((name) => `migration-lock apply ${name}`).sort(),
    );
    for (const apply of applies) expect(parentOf(apply)).toBe(applier.spanContext().spanId);
    // The holder took the lock at its first try: no wait. Each follower waited for it.
    const waits = named(spans, 'migration-lock wait');
    const followerRuns = runs.filter((span) => span !== applier).map((s) => s.spanContext().spanId);
    expect(waits.map(parentOf).sort()).toEqual(followerRuns.sort());
    for (const wait of waits)
      expect(wait.attributes).toMatchObject({
        'migration_lock.outcome': 'followed',
        'migration_lock.waited_ms': expect.any(Number),
        'migration_lock.lock.keys': [...MIGRATIONS_KEY],
      });

    const applied = await sdk.points('migration_lock.migrations.applied');
    expect(applied.reduce((sum, point) => sum + (point.value as number), 0)).toBe(
      migrations.length,
    );
    const durations = await sdk.points('migration_lock.migration.duration');
    expect(durations.reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(
      migrations.length,
    );
    const waited = await sdk.points('migration_lock.wait.duration');
    expect(waited.reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(3);

    // Nothing secret anywhere: no password, no connection string.
    const exported = JSON.stringify({
      spans: spans.map((span) => ({
        name: span.name,
        attributes: span.attributes,
        events: span.events,
      })),
      metrics: await sdk.allMetrics(),
    });
    expect(exported).not.toContain(PASSWORD);
    expect(exported).not.toContain(db.url.replace(/^postgres(ql)?:\/\//, ''));
    expect(exported).not.toContain('postgres://');
  });

  it("a lock timeout's wait span names the holder; the failures counter counts it", async () => {
    await observer.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATIONS_KEY]);
    const dataSource = await new DataSource({
      type: 'postgres',
      url: db.url,
      migrations,
    }).initialize();
    try {
      const runner = new MigrationRunnerService(dataSource, new AdvisoryLockService(dataSource), {
        ...DEFAULT_OPTIONS,
        timeoutMs: 300,
      });
      await expect(runner.run()).rejects.toBeInstanceOf(LockTimeoutError);
    } finally {
      await dataSource.destroy();
    }
    const observerPid = (await observer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const [wait] = named(sdk.spans(), 'migration-lock wait');
    expect(wait.attributes).toMatchObject({
      'migration_lock.outcome': 'timeout',
      'migration_lock.holder.pid': observerPid,
      'migration_lock.holder.application_name': 'otel-observer',
      'migration_lock.holder.held_ms': expect.any(Number),
    });
    expect(wait.status.code).toBe(2);
    const [run] = named(sdk.spans(), 'migration-lock run');
    expect(run.status.code).toBe(2);
    expect(await sdk.points('migration_lock.lock.failures')).toEqual([
      expect.objectContaining({
        attributes: expect.objectContaining({ 'migration_lock.failure.kind': 'timeout' }),
        value: 1,
      }),
    ]);
  });

  it('withLock inside an active span is its child, and the work runs under the lock span; tryWithLock on a held lock is skipped, a timeout names the holder', async () => {
    const dataSource = await new DataSource({ type: 'postgres', url: db.url }).initialize();
    const locks = new AdvisoryLockService(dataSource);
    const tracer = trace.getTracer('test');
    try {
      await tracer.startActiveSpan('request', async (request) => {
        await locks.withLock('orders', 'Jobs', async () => {
          tracer.startSpan('inside').end();
        });
        request.end();
      });
      await observer.query('SELECT pg_advisory_lock($1, $2)', [
        ...advisoryLockKey('orders', 'Jobs'),
      ]);
      await holderOf(observer, advisoryLockKey('orders', 'Jobs'));
      await expect(locks.tryWithLock('orders', 'Jobs', async () => 'ran')).resolves.toEqual({
        acquired: false,
      });
      await expect(
        locks.withLock('orders', 'Jobs', async () => 'ran', { timeoutMs: 200 }),
      ).rejects.toBeInstanceOf(LockTimeoutError);
    } finally {
      await dataSource.destroy();
    }
    const spans = sdk.spans();
    const [request] = named(spans, 'request');
    const [inside] = named(spans, 'inside');
    const [held, skipped, timedOut] = named(spans, 'advisory-lock orders');
    expect(parentOf(held)).toBe(request.spanContext().spanId);
    expect(parentOf(inside)).toBe(held.spanContext().spanId);
    expect(held.attributes).toMatchObject({
      'migration_lock.outcome': 'held',
      'migration_lock.lock.id': 'orders',
      'migration_lock.lock.type': 'Jobs',
      'migration_lock.waited_ms': expect.any(Number),
      'migration_lock.held_ms': expect.any(Number),
    });
    expect(skipped.attributes['migration_lock.outcome']).toBe('skipped');
    expect(timedOut.attributes).toMatchObject({
      'migration_lock.outcome': 'timeout',
      'migration_lock.holder.application_name': 'otel-observer',
    });
    expect(timedOut.status.code).toBe(2);
  });

  it('a job span per run, with its outcome: ran (with its period), skipped-held, skipped-ran-this-period, failed', async () => {
    let fail = false;
    @Injectable()
    class Jobs {
      @WithAdvisoryLock('otel-skip')
      async skipping() {
        return 'ran';
      }
      @WithAdvisoryLock('otel-daily', { oncePer: 'day' })
      async daily() {
        if (fail) throw new Error('job failed');
        return 'ran';
      }
    }
    const dataSource = new DataSource({ type: 'postgres', url: db.url, migrations: [] });
    const app = await Test.createTestingModule({
      imports: [MigrationLockModule.forRoot({ dataSource })],
      providers: [Jobs],
    }).compile();
    apps.push(app);
    await app.init();
    const jobs = app.get(Jobs);
    fail = true;
    await expect(jobs.daily()).rejects.toThrow('job failed');
    fail = false;
    await expect(jobs.daily()).resolves.toBe('ran');
    await expect(jobs.daily()).resolves.toBeUndefined();
    await observer.query('SELECT pg_advisory_lock($1, $2)', [
      ...advisoryLockKey('otel-skip', 'Jobs'),
    ]);
    await expect(jobs.skipping()).resolves.toBeUndefined();

    const jobSpans = named(sdk.spans(), 'advisory-lock job ');
    expect(jobSpans.map((span) => [span.name, span.attributes['migration_lock.outcome']])).toEqual([
      ['advisory-lock job otel-daily', 'failed'],
      ['advisory-lock job otel-daily', 'ran'],
      ['advisory-lock job otel-daily', 'skipped-ran-this-period'],
      ['advisory-lock job otel-skip', 'skipped-held'],
    ]);
    expect(jobSpans[0].status.code).toBe(2);
    const periodStart = jobSpans[1].attributes['migration_lock.job.period_start'] as string;
    expect(new Date(periodStart).getUTCHours()).toBe(0);
    // The job's lock call is a span under the job's.
    const lockSpans = named(sdk.spans(), 'advisory-lock otel-daily');
    expect(lockSpans.map(parentOf)).toContain(jobSpans[1].spanContext().spanId);
    const runs = await sdk.points('migration_lock.job.runs');
    const byOutcome = Object.fromEntries(
      runs.map((point) => [point.attributes['migration_lock.outcome'], point.value]),
    );
    expect(byOutcome).toEqual({
      failed: 1,
      ran: 1,
      'skipped-ran-this-period': 1,
      'skipped-held': 1,
    });
  });
});
