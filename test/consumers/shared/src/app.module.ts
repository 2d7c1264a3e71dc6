import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MigrationLockModule } from 'nestjs-migration-lock';
import { dataSourceOptions } from './data-source-options';
import { ReportsModule } from './reports/reports.module';

@Module({
  imports: [
    TypeOrmModule.forRoot(dataSourceOptions()),
    MigrationLockModule.forRoot({ timeoutMs: 60_000 }),
    ReportsModule,
  ],
})
export class AppModule {}
