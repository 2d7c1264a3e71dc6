import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { advisoryLockRows, pollUntil, waiterOnGate, waitersFor } from '../support/observe.js';
import { pgbouncerInstalled, startPgBouncer } from '../support/pgbouncer.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * Three replica processes (reference/jobs/job-replica, built by pretest) with one @Cron job every
 * second under @WithAdvisoryLock, against a fresh database per test. Every run writes a row naming
 * its replica and its period; the test reads them back, and observes pg_locks for the kill.
 */
const TICK_KEY = advisoryLockKey('tick', 'Jobs');
/** As in pooler.spec.ts: outside CI, a machine without pgbouncer skips (and says so there). */
const poolerTests = pgbouncerInstalled() || process.env.CI === 'true';
const GATE_LOCK = 914_273;
/**
 * Replica c's ticks arrive 300 ms late, after a or b ran the period: what a busy replica's cron
 * does. Without it, whether a late tick happens at all is left to the machine's scheduling.
 */
const LATE_C = { LATE_REPLICA: 'c', LATE_MS: '300' };
const PERIODS = 10;

const entry = (() => {
  const built = fileURLToPath(
    new URL('../../build/reference/jobs/job-replica.js', import.meta.url),
  );
  if (!existsSync(built)) throw new Error(`${built} is missing: run npm run build (pretest does)`);
  return built;
})();

interface Replica {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  /** Resolves once the replica has printed `text` (its events and `ready` go to stdout). */
  said(text: string): Promise<void>;
}

describe('@WithAdvisoryLock on @Cron across replica processes', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let replicas: Replica[] = [];

  beforeEach(async () => {
    db = await createTestDatabase('jobs-e2e');
    observer = await connectClient(db.url, 'observer');
    await observer.query(
      'CREATE TABLE job_ticks (replica text NOT NULL, period timestamptz NOT NULL)',
    );
  });

  afterEach(async () => {
    await Promise.all(
      replicas.map(async (replica) => {
        if (replica.child.exitCode === null && replica.child.signalCode === null)
          replica.child.kill('SIGKILL');
        await replica.exited;
      }),
    );
    replicas = [];
    await observer.end();
    await db.drop();
  });

  /** Starts the replicas and resolves once each has said `ready` (its crons run from then on). */
  async function start(
    env: Record<string, string>,
    names = ['a', 'b', 'c'],
    databaseUrl = db.url,
  ): Promise<Replica[]> {
    replicas = names.map((name, index) => {
      const child = spawn(process.execPath, [entry], {
        env: {
          ...process.env,
          ...env,
          DATABASE_URL: databaseUrl,
          REPLICA: name,
          ORDER: index === 1 ? 'below' : 'above',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (chunk) => (stderr += String(chunk)));
      child.stdout!.on('data', (chunk) => (stdout += String(chunk)));
      const exited = once(child, 'exit');
      const said = (text: string) =>
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (!stdout.includes(text)) return;
            child.stdout!.off('data', check);
            resolve();
          };
          child.stdout!.on('data', check);
          child.once('exit', (code) =>
            reject(new Error(`replica ${name} exited ${code} before "${text}": ${stderr}`)),
          );
          check();
        });
      return { name, child, exited, said };
    });
    await Promise.all(replicas.map((replica) => replica.said('ready')));
    return replicas;
  }

  async function stopAll(): Promise<void> {
    for (const replica of replicas) replica.child.kill('SIGTERM');
    await Promise.all(replicas.map((replica) => replica.exited));
  }

  /** Runs per period, once `count` periods after the first have at least one run. */
  async function runsPerPeriod(
    count: number,
  ): Promise<Array<{ period: string; runs: number; replicas: string[] }>> {
    await pollUntil(
      async () => {
        const { rows } = await observer.query(
          'SELECT count(DISTINCT period)::int AS n FROM job_ticks',
        );
        return rows[0].n >= count + 1 ? true : undefined;
      },
      `${count + 1} periods with runs`,
      60_000,
    );
    await stopAll();
    const { rows } = await observer.query(
      `SELECT period::text, count(*)::int AS runs, array_agg(replica ORDER BY replica) AS replicas
         FROM job_ticks GROUP BY period ORDER BY period`,
    );
    return rows;
  }

  it(`oncePer: 1000 — over ${PERIODS} seconds every period has exactly one run`, async () => {
    await start({ ONCE_PER: '1000', ...LATE_C });
    const periods = await runsPerPeriod(PERIODS);
    expect(periods.filter((p) => p.runs !== 1)).toEqual([]);
    // No period is missing between the first and the last: every second some replica ran it.
    const seconds = periods.map((p) => Date.parse(p.period) / 1000);
    expect(seconds.at(-1)! - seconds[0]).toBe(seconds.length - 1);
  });

  (poolerTests ? it : it.skip)(
    'behind PgBouncer in transaction pooling (2 server connections for 3 replicas): every period still has exactly one run',
    async () => {
      const bouncer = await startPgBouncer(
        process.env.MIGRATION_LOCK_TEST_ADMIN_URL!,
        'transaction',
        2,
      );
      try {
        await start({ ONCE_PER: '1000' }, ['a', 'b', 'c'], bouncer.url(db.name));
        const periods = await runsPerPeriod(5);
        expect(periods.filter((p) => p.runs !== 1)).toEqual([]);
      } finally {
        await stopAll();
        await bouncer.stop();
      }
    },
  );

  it('control: without oncePer, late ticks of other replicas run the job again in the same period', async () => {
    await start(LATE_C);
    const periods = await runsPerPeriod(PERIODS);
    expect(periods.filter((p) => p.runs > 1).length).toBeGreaterThan(0);
  });

  it('a replica killed mid-job frees the lock; another runs the job in a later period, the killed run left nothing', async () => {
    await observer.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    await start({ ONCE_PER: '1000', GATE_LOCK: String(GATE_LOCK) });
    // The first run holds the job's lock and waits at the gate, inside its transaction.
    await waiterOnGate(observer, GATE_LOCK);
    const holder = await holderName();
    const victim = replicas.find((replica) => replica.name === holder)!;
    victim.child.kill('SIGKILL');
    await victim.exited;
    // Another replica takes the job's lock (its next tick) and waits at the gate in turn.
    const next = await pollUntil(
      async () => {
        const name = await holderName().catch(() => undefined);
        return name && name !== holder ? name : undefined;
      },
      'another replica holding the job lock',
      30_000,
    );
    await observer.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    const { rows } = await pollUntil(async () => {
      const result = await observer.query('SELECT replica FROM job_ticks');
      return result.rows.length > 0 ? result : undefined;
    }, 'a committed run');
    expect(rows.map((row) => row.replica)).not.toContain(holder);
    expect(rows.map((row) => row.replica)).toContain(next);
  });

  it("onHeld 'skip': while a session holds the job's lock, every replica's tick skips at once; released, they run", async () => {
    await observer.query('BEGIN');
    await observer.query('SELECT pg_advisory_xact_lock($1, $2)', [...TICK_KEY]);
    const started = await start({});
    await Promise.all(started.map((replica) => replica.said('event jobSkipped held')));
    // Skipping is not waiting: nobody is in line for the lock, and nothing ran.
    expect((await advisoryLockRows(observer, TICK_KEY)).filter((row) => !row.granted)).toEqual([]);
    expect((await observer.query('SELECT * FROM job_ticks')).rows).toEqual([]);
    await observer.query('COMMIT');
    await Promise.all(started.map((replica) => replica.said('event jobFinished')));
  });

  it("onHeld 'wait': a replica's tick waits for the holder in pg_locks, then runs", async () => {
    await observer.query('BEGIN');
    await observer.query('SELECT pg_advisory_xact_lock($1, $2)', [...TICK_KEY]);
    const [replica] = await start({ ON_HELD: 'wait' }, ['w']);
    await waitersFor(observer, TICK_KEY, 1);
    expect((await observer.query('SELECT * FROM job_ticks')).rows).toEqual([]);
    await observer.query('COMMIT');
    await replica.said('event jobFinished');
    expect((await observer.query('SELECT replica FROM job_ticks')).rows[0]).toEqual({
      replica: 'w',
    });
  });

  it('oncePer: a run that throws records nothing; the next tick runs the job again and records it', async () => {
    const [replica] = await start({ ONCE_PER: '1000', FAIL_FIRST: '1' }, ['f']);
    await replica.said('event jobFailed');
    // What the failed run wrote rolled back with its period record.
    const afterFailure = await observer.query(
      `SELECT (SELECT count(*)::int FROM job_ticks) AS ticks,
              (SELECT count(*)::int FROM migration_lock_job_runs) AS runs`,
    );
    expect(afterFailure.rows[0]).toEqual({ ticks: 0, runs: 0 });
    await replica.said('event jobFinished');
    const { rows } = await observer.query('SELECT replica FROM job_ticks');
    expect(rows).toEqual([{ replica: 'f' }]);
  });

  /** The replica whose backend holds the job's lock now (application_name job-replica-<name>:host:pid). */
  async function holderName(): Promise<string> {
    const holderPid = (await advisoryLockRows(observer, TICK_KEY)).find((row) => row.granted)?.pid;
    if (holderPid === undefined) throw new Error('nobody holds the job lock');
    const { rows } = await observer.query(
      'SELECT application_name FROM pg_stat_activity WHERE pid = $1',
      [holderPid],
    );
    return /^job-replica-([^:]+)/.exec(String(rows[0].application_name))![1];
  }
});
