import { NestFactory } from '@nestjs/core';
import { MigrationRunnerService } from 'nestjs-migration-lock';
import { AppModule } from './app.module';
import { ReportsService } from './reports/reports.service';

// As `nest new` writes it, plus one line of JSON for the matrix: migrations ran before listen().
async function bootstrap() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const counter = await app.get(ReportsService).bump();
  const runner = app.get(MigrationRunnerService);
  const run = runner.lastResult;
  const tenantsMigrated = runner.state.tenants?.migrated;
  console.log(
    JSON.stringify({
      ready: true,
      counter,
      outcome: run?.outcome,
      applied: run?.applied,
      tenantsMigrated,
    }),
  );
  await app.close();
}
bootstrap();
