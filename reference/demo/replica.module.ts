import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppModule } from '../service/app.module.js';
import { epochNow, type ReplicaConfig } from './replica-protocol.js';
import { SCENARIOS } from './scenario-migrations.js';

const REPLICA_CONFIG = Symbol('REPLICA_CONFIG');

/** The control for `--no-lock`: what a plain TypeORM service does, runMigrations at bootstrap with no lock. */
@Injectable()
export class UnlockedMigrations implements OnApplicationBootstrap {
  applied: string[] = [];
  /** When runMigrations finished (epochNow()). */
  doneAt = 0;

  constructor(
    @Inject(DataSource) private readonly dataSource: DataSource,
    @Inject(REPLICA_CONFIG) private readonly config: ReplicaConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // The standalone runner starts migrations itself, after the common start signal.
    if (this.config.http !== false) await this.run();
  }

  async run(): Promise<void> {
    this.applied = (await this.dataSource.runMigrations({ transaction: 'all' })).map((m) => m.name);
    this.doneAt = epochNow();
  }
}

/** The reference service as one replica of the demo fleet. */
@Module({})
export class ReplicaModule {
  static register(config: ReplicaConfig): DynamicModule {
    const locked = config.mode !== 'unlocked';
    return {
      module: ReplicaModule,
      imports: [
        AppModule.register({
          databaseUrl: config.databaseUrl,
          poolIdleTimeoutMs: config.poolIdleTimeoutMs,
          extraMigrations: (config.scenarios ?? []).flatMap((scenario) => SCENARIOS[scenario]),
          migrationLock: {
            // The standalone runner (http: false) is initialized before the start signal and runs
            // its migrations after it, like the CLI.
            runOnBootstrap: locked && config.http !== false,
            transaction: config.transaction ?? 'all',
            ...(config.lockTimeoutMs === undefined ? {} : { timeoutMs: config.lockTimeoutMs }),
            ...(config.directUrl === undefined ? {} : { directUrl: config.directUrl }),
            ...(config.validate === undefined ? {} : { validate: config.validate }),
            ...(config.historyTable === false ? { historyTable: false as const } : {}),
          },
        }),
      ],
      providers: [
        { provide: REPLICA_CONFIG, useValue: config },
        ...(locked ? [] : [UnlockedMigrations]),
      ],
    };
  }
}
