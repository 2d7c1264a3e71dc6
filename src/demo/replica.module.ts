import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppModule } from '../service/app.module.js';
import type { ReplicaMode } from './replica-protocol.js';

/** The control for `--no-lock`: what a plain TypeORM service does, runMigrations at bootstrap with no lock. */
@Injectable()
export class UnlockedMigrations implements OnApplicationBootstrap {
  applied: string[] = [];

  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    this.applied = (await this.dataSource.runMigrations({ transaction: 'all' })).map((m) => m.name);
  }
}

/** The reference service as one replica of the demo fleet. */
@Module({})
export class ReplicaModule {
  static register(databaseUrl: string, mode: ReplicaMode): DynamicModule {
    const locked = mode === 'locked';
    return {
      module: ReplicaModule,
      imports: [AppModule.register({ databaseUrl, migrationLock: { runOnBootstrap: locked } })],
      providers: locked ? [] : [UnlockedMigrations],
    };
  }
}
