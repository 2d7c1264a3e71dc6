import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { MigrationLockModule, WithAdvisoryLock } from '../src/index.js';
import { advisoryLockKey } from '../src/lock/lock-key.js';
import { median, round, spread, type Spread, timeUs } from './stats.js';

const JOB_ID = 'bench-job';
const KEY = advisoryLockKey(JOB_ID, 'Jobs');

@Injectable()
class BenchJobs {
  @WithAdvisoryLock(JOB_ID)
  async noop(): Promise<void> {}
}

export interface JobTickResults {
  jobTickOverheadVsRaw: Spread & { jobMedianUs: number; rawMedianUs: number; warmUpCalls: number };
}

/**
 * A decorated no-op job's call (`onHeld: 'skip'`, in a Nest application context, as @nestjs/schedule
 * calls it) against a raw `BEGIN; pg_try_advisory_xact_lock; COMMIT` (three round trips, as
 * withLockVsRaw measures withLock), interleaved in the same run, both warmed up first.
 */
export async function benchJobTick(
  url: string,
  options: { runs: number; samples: number; warmUpCalls: number },
): Promise<JobTickResults> {
  const dataSource = new DataSource({ type: 'postgres', url, poolSize: 2 });

  @Module({
    imports: [MigrationLockModule.forRoot({ dataSource, runOnBootstrap: false })],
    providers: [BenchJobs],
  })
  class BenchJobsModule {}

  const app = await NestFactory.createApplicationContext(BenchJobsModule, { logger: false });
  const jobs = app.get(BenchJobs);
  const raw = new pg.Client({ connectionString: url, application_name: 'bench-raw-job' });
  raw.on('error', () => undefined);
  await raw.connect();
  const pair = async (): Promise<[number, number]> => {
    const jobUs = await timeUs(() => jobs.noop());
    const rawUs = await timeUs(async () => {
      await raw.query('BEGIN');
      await raw.query('SELECT pg_try_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
      await raw.query('COMMIT');
    });
    return [jobUs, rawUs];
  };
  const ratios: number[] = [];
  let last = { job: [] as number[], raw: [] as number[] };
  try {
    for (let i = 0; i < options.warmUpCalls; i++) await pair();
    for (let run = 0; run < options.runs; run++) {
      const job: number[] = [];
      const rawUs: number[] = [];
      for (let i = 0; i < options.samples * 10; i++) {
        const [jobSample, rawSample] = await pair();
        job.push(jobSample);
        rawUs.push(rawSample);
      }
      ratios.push(median(job) / median(rawUs));
      last = { job, raw: rawUs };
    }
  } finally {
    await raw.end();
    await app.close();
  }
  return {
    jobTickOverheadVsRaw: {
      ...spread(ratios),
      jobMedianUs: round(median(last.job), 0),
      rawMedianUs: round(median(last.raw), 0),
      warmUpCalls: options.warmUpCalls,
    },
  };
}
