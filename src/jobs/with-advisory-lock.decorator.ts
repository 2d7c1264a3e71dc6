import { InvalidOptionsError, JobNotRegisteredError } from '../errors/migration-lock.errors.js';
import { lockedJob, type WithAdvisoryLockOptions } from './locked-job.js';
import { linkedJobRunner, recordLockedJob } from './locked-job.registry.js';

type AnyMethod = (...args: unknown[]) => unknown;

/**
 * Runs the method under a transaction-level advisory lock, on one replica at a time, inside the
 * lock's transaction (reach its EntityManager with `AdvisoryLockContext.manager()`). With
 * `onHeld: 'skip'` (the default) a call while another replica holds the lock returns undefined at
 * once; with `oncePer`, at most one successful run per period across all replicas. The method
 * becomes async. Arguments are checked here, when the class is defined.
 *
 * ```ts
 * @Cron(CronExpression.EVERY_MINUTE)
 * @WithAdvisoryLock('send-digest', { oncePer: 'minute' })
 * async sendDigest() { await AdvisoryLockContext.manager().insert(Digest, { ... }); }
 * ```
 */
export function WithAdvisoryLock(
  id: string,
  options: WithAdvisoryLockOptions = {},
): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const original = descriptor.value as unknown;
    const method = `${(target as { constructor: { name: string } }).constructor.name}.${String(propertyKey)}`;
    const job = lockedJob(id, options, method);
    if (typeof original !== 'function')
      throw new InvalidOptionsError(`${method}: @WithAdvisoryLock decorates methods only.`);
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const runner = linkedJobRunner(this, job.dataSourceName);
      if (!runner) {
        return Promise.reject(new JobNotRegisteredError(job.name, method, job.dataSourceName));
      }
      return runner.run(job, () => (original as AnyMethod).apply(this, args));
    };
    keepIdentity(original as AnyMethod, wrapped);
    recordLockedJob(target, job);
    return { ...descriptor, value: wrapped as typeof descriptor.value };
  };
}

/**
 * The wrapper keeps the method's name and the metadata decorators applied before this one put on
 * it (@Cron below @WithAdvisoryLock), so discovery by @nestjs/schedule and others still finds them.
 */
function keepIdentity(original: AnyMethod, wrapped: AnyMethod): void {
  Object.defineProperty(wrapped, 'name', { value: original.name });
  const reflect = Reflect as unknown as {
    getOwnMetadataKeys?: (target: object) => unknown[];
    getOwnMetadata?: (key: unknown, target: object) => unknown;
    defineMetadata?: (key: unknown, value: unknown, target: object) => void;
  };
  if (!reflect.getOwnMetadataKeys || !reflect.getOwnMetadata || !reflect.defineMetadata) return;
  for (const key of reflect.getOwnMetadataKeys(original)) {
    reflect.defineMetadata(key, reflect.getOwnMetadata(key, original), wrapped);
  }
}
