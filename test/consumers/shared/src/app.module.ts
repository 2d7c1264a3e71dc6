import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MigrationLockModule } from 'nestjs-migration-lock';
import { dataSourceOptions } from './data-source-options';
import { ReportsModule } from './reports/reports.module';
import { CreateNotes1700000000101 } from './tenant-migrations/1700000000101-create-notes';

@Module({
  imports: [
    TypeOrmModule.forRoot(dataSourceOptions()),
    MigrationLockModule.forRoot({
      timeoutMs: 60_000,
      // One schema per tenant, after the shared migrations: each tenant once, across the fleet.
      tenants: {
        migrations: [CreateNotes1700000000101],
        schemas: ['tenant_a', 'tenant_b'],
        createSchemas: true,
      },
    }),
    ReportsModule,
  ],
})
export class AppModule {}
