import 'reflect-metadata';
import { Injectable, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import {
  AdvisoryLockContext,
  MigrationLockModule,
  WithAdvisoryLock,
  type MigrationLockEvents,
} from '../../src/index.js';

/*
 * A replica of a service with one scheduled job, `tick`, on @Cron every second under
 * @WithAdvisoryLock: what the scheduled-jobs process tests start three of. Each run writes a row
 * (which replica, which period) in the job's transaction. Environment:
 *   DATABASE_URL  the database; the table job_ticks must exist
 *   REPLICA       a name for the rows and the application_name
 *   ONCE_PER      the job's oncePer in ms (unset: no oncePer, the control)
 *   ORDER         `below`: @WithAdvisoryLock below @Cron (default above)
 *   GATE_LOCK     a one-number advisory lock the run waits on (shared) before it commits
 *   ON_HELD       the job's onHeld (`skip` by default, or `wait`)
 *   FAIL_FIRST    `1`: the replica's first run throws after writing its row
 *   LATE_REPLICA, LATE_MS  the replica so named calls the job LATE_MS after each tick: the late
 *                 tick of a busy replica, which arrives after another replica ran the period
 * Prints `ready` once the app is initialized (the crons then run), and a line per job event
 * (`event jobSkipped held`, `event jobFailed`, …); stops on SIGTERM.
 */
const replica = process.env.REPLICA ?? String(process.pid);
const oncePer = process.env.ONCE_PER ? Number(process.env.ONCE_PER) : undefined;
const gate = process.env.GATE_LOCK ? Number(process.env.GATE_LOCK) : undefined;
const onHeld = process.env.ON_HELD === 'wait' ? 'wait' : 'skip';
const jobOptions = { onHeld, ...(oncePer === undefined ? {} : { oncePer }) } as const;
let failNext = process.env.FAIL_FIRST === '1';

/** The period a run belongs to: the one its oncePer record claimed, else the current second. */
const PERIOD_SQL = `coalesce((SELECT max(period_start) FROM migration_lock_job_runs WHERE job_id = 'tick'),
                             date_trunc('second', clock_timestamp()))`;

async function tick(): Promise<void> {
  const manager = AdvisoryLockContext.manager();
  const period = oncePer === undefined ? `date_trunc('second', clock_timestamp())` : PERIOD_SQL;
  await manager.query(`INSERT INTO job_ticks (replica, period) VALUES ($1, ${period})`, [replica]);
  if (gate !== undefined) await manager.query('SELECT pg_advisory_xact_lock_shared($1)', [gate]);
  if (failNext) {
    failNext = false;
    throw new Error('the first run fails');
  }
}

/** One stdout line per job event, for the tests to observe. */
const events: MigrationLockEvents = {
  jobStarted: () => say('event jobStarted'),
  jobSkipped: ({ reason }) => say(`event jobSkipped ${reason}`),
  jobFinished: () => say('event jobFinished'),
  jobFailed: () => say('event jobFailed'),
};

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

@Injectable()
class CronAboveLock {
  @Cron('* * * * * *')
  @WithAdvisoryLock('tick', jobOptions)
  async tick() {
    await tick();
  }
}

/** A replica whose ticks arrive late: the job itself is the same method, called after a delay. */
@Injectable()
class LateCron {
  @Cron('* * * * * *')
  async lateTick() {
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.LATE_MS)));
    await this.tick();
  }

  @WithAdvisoryLock('tick', jobOptions)
  async tick() {
    await tick();
  }
}

@Injectable()
class CronBelowLock {
  @WithAdvisoryLock('tick', jobOptions)
  @Cron('* * * * * *')
  async tick() {
    await tick();
  }
}

async function main(): Promise<void> {
  const dataSource = new DataSource({
    type: 'postgres',
    url: process.env.DATABASE_URL,
    applicationName: `job-replica-${replica}`,
  });
  const jobs: Type =
    process.env.LATE_REPLICA === replica
      ? LateCron
      : process.env.ORDER === 'below'
        ? CronBelowLock
        : CronAboveLock;

  @Module({
    imports: [
      ScheduleModule.forRoot(),
      MigrationLockModule.forRoot({ dataSource, runOnBootstrap: false, events }),
    ],
    providers: [jobs],
  })
  class JobReplicaModule {}

  const app = await NestFactory.createApplicationContext(JobReplicaModule, { logger: ['error'] });
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  say('ready');
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
