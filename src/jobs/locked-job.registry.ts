import type { LockedJob } from './locked-job.js';
import type { LockedJobRunner } from './locked-job.runner.js';

/*
 * Where a decorated method finds its runner. The decorator wraps the method when its class is
 * defined (so it composes with @nestjs/schedule in either order: schedule reads the wrapped method
 * and its metadata); at start-up each MigrationLockModule registration links the instances that
 * have jobs for its DataSource to its runner. Both marks are symbol properties from the global
 * symbol registry, so an app that loads this package both as CommonJS and as ESM still connects them.
 */
const JOBS = Symbol.for('nestjs-migration-lock.lockedJobs');
const RUNNERS = Symbol.for('nestjs-migration-lock.jobRunners');

type WithJobs = { [JOBS]?: LockedJob[] };
type WithRunners = { [RUNNERS]?: Map<string | undefined, LockedJobRunner> };

/** Records a job on its class's prototype. */
export function recordLockedJob(prototype: object, job: LockedJob): void {
  const own = Object.hasOwn(prototype, JOBS) ? (prototype as WithJobs)[JOBS]! : [];
  if (own.length === 0) {
    Object.defineProperty(prototype, JOBS, { value: own, enumerable: false });
  }
  own.push(job);
}

/** Every job of an instance's class and its base classes. */
export function lockedJobsOf(instance: object): LockedJob[] {
  const jobs: LockedJob[] = [];
  for (let p = Object.getPrototypeOf(instance); p; p = Object.getPrototypeOf(p)) {
    if (Object.hasOwn(p, JOBS)) jobs.push(...(p as WithJobs)[JOBS]!);
  }
  return jobs;
}

/** Links an instance to the runner of the registration for `dataSourceName`. */
export function linkJobRunner(
  instance: object,
  dataSourceName: string | undefined,
  runner: LockedJobRunner,
): void {
  let runners = (instance as WithRunners)[RUNNERS];
  if (!Object.hasOwn(instance, RUNNERS) || !runners) {
    runners = new Map();
    Object.defineProperty(instance, RUNNERS, { value: runners, enumerable: false });
  }
  runners.set(dataSourceName, runner);
}

export function linkedJobRunner(
  instance: unknown,
  dataSourceName: string | undefined,
): LockedJobRunner | undefined {
  if (typeof instance !== 'object' || instance === null) return undefined;
  return (instance as WithRunners)[RUNNERS]?.get(dataSourceName);
}
