import pg from 'pg';
import { advisoryLockKey, lockKeyAsOids } from '../../src/lock/lock-key.js';
import type { ReplicaProcess } from './replica-process.js';
import { GATE_LOCK } from './scenario-migrations.js';

const MIGRATION_KEY = lockKeyAsOids(advisoryLockKey('migrations', 'Migrations'));

/**
 * The demo's chaos monkey: it holds the gate the Gate migration waits for, finds the replica that
 * holds the migration lock once it is stuck at the gate, kills it with SIGKILL, and opens the gate
 * so that the replica taking over can finish.
 */
export class ChaosMonkey {
  private constructor(private readonly client: pg.Client) {}

  static async holdGate(databaseUrl: string): Promise<ChaosMonkey> {
    const client = new pg.Client({
      connectionString: databaseUrl,
      application_name: 'chaos-monkey',
    });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    return new ChaosMonkey(client);
  }

  /** Waits until the migration-lock holder waits at the gate, kills its process, and returns it. */
  async killHolderAtGate(replicas: readonly ReplicaProcess[]): Promise<ReplicaProcess> {
    for (;;) {
      const { rows } = await this.client.query<{ application_name: string }>(
        `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE a.datname = current_database() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.classid = $1 AND l.objid = $2
            AND EXISTS (SELECT 1 FROM pg_locks g WHERE g.pid = l.pid AND g.locktype = 'advisory'
                          AND g.objsubid = 1 AND g.objid = $3 AND NOT g.granted)`,
        [...MIGRATION_KEY, GATE_LOCK],
      );
      const pid = Number(rows[0]?.application_name.split(':').at(-1));
      const victim = replicas.find((replica) => replica.pid === pid);
      if (victim) {
        victim.kill('SIGKILL');
        await victim.exited;
        return victim;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async openGate(): Promise<void> {
    await this.client.end();
  }
}
