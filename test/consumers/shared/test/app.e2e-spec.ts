import { INestApplication } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MigrationLockModule, MigrationRunnerService } from 'nestjs-migration-lock';
import { createTestDatabase, TestDatabase } from 'nestjs-migration-lock/testing';
import { AppModule } from './../src/app.module';
import { dataSourceOptions } from './../src/data-source-options';
import { ReportsModule } from './../src/reports/reports.module';
import { ReportsService } from './../src/reports/reports.service';

type TestOptions = Parameters<typeof createTestDatabase>[0]['dataSourceOptions'];

// The `nest new` e2e test shape, run by ts-jest (CommonJS apps) or by vitest with its globals (the
// ESM app nest new v12 makes by default): app.init() runs the migrations under the lock.
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

// nestjs-migration-lock/testing (the CommonJS build under Jest, the ESM one under vitest): a
// database of this file's own.
describe('a test database of its own (nestjs-migration-lock/testing)', () => {
  let db: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase({ dataSourceOptions: dataSourceOptions() as TestOptions });
    const moduleFixture = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot(db.dataSourceOptions),
        MigrationLockModule.forRoot(),
        ReportsModule,
      ],
    }).compile();
    app = moduleFixture.createNestApplication();
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await db.drop();
  });

  it('is cloned already migrated: the module finds nothing pending', async () => {
    expect(app.get(MigrationRunnerService).lastResult?.outcome).toBe('upToDate');
    expect(await app.get(ReportsService).bump()).toBe(1);
  });

  it('@WithAdvisoryLock: runs once, then skips for the rest of the day', async () => {
    const reports = app.get(ReportsService);
    expect(await reports.dailyBump()).toBe(101);
    expect(await reports.dailyBump()).toBeUndefined();
  });
});
