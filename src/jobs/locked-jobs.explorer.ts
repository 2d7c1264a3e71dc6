import type { OnModuleInit } from '@nestjs/common';
import type { DiscoveryService } from '@nestjs/core';
import { namedDataSource } from '../errors/option-checks.js';
import { linkJobRunner, lockedJobsOf } from './locked-job.registry.js';
import type { LockedJobRunner } from './locked-job.runner.js';

/**
 * At start-up, finds the providers and controllers with `@WithAdvisoryLock` methods for this
 * registration's DataSource and links them to its runner (Nest's DiscoveryService: every module of
 * the app, not only those importing MigrationLockModule). Request-scoped instances are not linked.
 */
export class LockedJobsExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly runner: LockedJobRunner,
    private readonly dataSourceName: string | undefined,
  ) {}

  onModuleInit(): void {
    const name = namedDataSource(this.dataSourceName);
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null || !wrapper.isDependencyTreeStatic())
        continue;
      if (lockedJobsOf(instance).some((job) => job.dataSourceName === name))
        linkJobRunner(instance, name, this.runner);
    }
  }
}
