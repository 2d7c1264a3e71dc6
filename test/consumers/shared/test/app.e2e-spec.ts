import { INestApplication } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { MigrationRunnerService } from 'nestjs-migration-lock';
import { AppModule } from './../src/app.module';
import { ReportsService } from './../src/reports/reports.service';

// The `nest new` e2e test shape (ts-jest): app.init() runs the migrations under the lock.
describe('AppModule (e2e)', () => {
  let app: INestApplication;

  beforeEach(async () => {
    const moduleFixture: TestingModule = await Test.createTestingModule({
      imports: [AppModule],
    }).compile();
    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterEach(async () => {
    await app.close();
  });

  it('migrates on init, and withLock works from a feature module', async () => {
    expect(app.get(MigrationRunnerService).state.phase).toBe('done');
    expect(await app.get(ReportsService).bump()).toBeGreaterThan(0);
  });
});
