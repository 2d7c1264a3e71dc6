import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { MigrationLockModule } from '../../src/module/migration-lock.module.js';
import { MigrationRunnerService } from '../../src/migration-runner/migration-runner.service.js';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { DEFAULT_OPTIONS } from '../../src/module/resolve-options.js';
import { manyMigrations } from '../many-migrations.bench.js';

/*
 * One fresh process of the history bench, on a database where `count` migrations are applied and
 * recorded: `validate` times MigrationRunnerService.validate() (its first call: cold code, as a
 * CI job or a starting replica pays it); `warn` / `fail` / `off` time a replica's start with
 * nothing pending with that validate level (`warn` checks after the start, `fail` before it): `ms` from the process's start (node, module loading,
 * DataSource connect, Nest context, the bootstrap run), `initMs` from after the imports.
 * Prints the milliseconds as JSON.
 */
const [url, countArg, mode] = process.argv.slice(2);
const migrations = manyMigrations(Number(countArg));
Logger.overrideLogger(false);

if (mode === 'validate') {
  const dataSource = await new DataSource({ type: 'postgres', url, migrations }).initialize();
  const runner = new MigrationRunnerService(
    dataSource,
    new AdvisoryLockService(dataSource),
    DEFAULT_OPTIONS,
  );
  const started = performance.now();
  const { findings } = await runner.validate();
  const ms = performance.now() - started;
  await dataSource.destroy();
  if (findings.length > 0) throw new Error(`expected a clean history, found ${findings.length}`);
  console.log(JSON.stringify({ ms }));
} else {
  const started = performance.now();
  const dataSource = await new DataSource({ type: 'postgres', url, migrations }).initialize();
  const app = await NestFactory.createApplicationContext(
    MigrationLockModule.forRoot({ dataSource, validate: mode as 'warn' | 'fail' | 'off' }),
    { logger: false },
  );
  await app.init();
  // performance.now() counts from the process's start.
  const ms = performance.now();
  const initMs = ms - started;
  const { outcome } = app.get(MigrationRunnerService).lastResult ?? {};
  await app.close();
  await dataSource.destroy();
  if (outcome !== 'upToDate') throw new Error(`expected nothing pending, got ${outcome}`);
  console.log(JSON.stringify({ ms, initMs }));
}
process.exit(0);
