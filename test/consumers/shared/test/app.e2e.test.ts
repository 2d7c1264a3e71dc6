import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { MigrationRunnerService } from 'nestjs-migration-lock';
import { AppModule } from '../src/app.module';
import { ReportsService } from '../src/reports/reports.service';

// The ESM apps' e2e test (node:test): app.init() runs the migrations under the lock.
describe('AppModule (e2e)', () => {
  let app: INestApplication;

  before(async () => {
    const moduleFixture = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleFixture.createNestApplication();
    await app.init();
  });

  after(() => app.close());

  it('migrates on init, and withLock works from a feature module', async () => {
    assert.equal(app.get(MigrationRunnerService).state.phase, 'done');
    assert.ok((await app.get(ReportsService).bump()) > 0);
  });

  it('@WithAdvisoryLock (ESM build): at most one run a day, the second call skips', async () => {
    const reports = app.get(ReportsService);
    await reports.dailyBump();
    assert.equal(await reports.dailyBump(), undefined);
  });
});
