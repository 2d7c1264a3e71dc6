import pg from 'pg';
import { launchFleet, type Fleet } from '../../reference/demo/fleet.js';
import { checkRollout } from '../../reference/demo/rollout-check.js';
import { GATE_LOCK, SCENARIOS } from '../../reference/demo/scenario-migrations.js';
import { referenceMigrations } from '../../reference/migrations/index.js';
import {
  startEmbeddedPostgres,
  type LocalPostgres,
} from '../../reference/runtime/embedded-postgres.js';
import { rowsAppear } from '../support/observe.js';

/*
 * The server restarted (pg_ctl restart -m fast, a failover) while the holder's migration runs: its
 * backend ends with 57P01, and with it the lock and the work. That is the lock lost, never the
 * migration's fault. A server of the test's own, since a restart ends every session on it.
 */
const names = [...referenceMigrations, ...SCENARIOS.gate].map((m) => new m().name);

describe('a server restart while the holder migrates', () => {
  let server: LocalPostgres;
  const fleets: Fleet[] = [];

  beforeAll(async () => {
    server = await startEmbeddedPostgres({ fast: true });
  });

  afterAll(async () => {
    await server?.stop();
  });

  afterEach(() => {
    for (const started of fleets.splice(0))
      for (const replica of started.replicas) replica.kill('SIGKILL');
  });

  async function connect(url: string, name: string): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, application_name: name });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  it.each(['all', 'each'] as const)(
    'mode %s: the holder fails with LOCK_LOST naming the shutdown; a replica started after completes',
    async (transaction) => {
      const admin = await connect(server.url, 'admin');
      const database = `restart_${transaction}`;
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.end();
      const url = new URL(server.url);
      url.pathname = `/${database}`;
      const gate = await connect(url.toString(), 'gate-keeper');
      await gate.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
      const started = await launchFleet(1, {
        databaseUrl: url.toString(),
        transaction,
        scenarios: ['gate'],
      });
      fleets.push(started);
      const released = started.release();
      await rowsAppear(
        gate,
        'the holder waiting at the gate',
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1`,
        [GATE_LOCK],
      );
      await server.restart!();
      const [holder] = await released;
      expect(holder).toMatchObject({ status: 'failed', code: 'LOCK_LOST' });
      expect(holder.error).toContain('terminating connection due to administrator command');
      // The gate keeper's session ended with the restart: the gate is open for the next replica.
      const next = await launchFleet(1, {
        databaseUrl: url.toString(),
        transaction,
        scenarios: ['gate'],
      });
      fleets.push(next);
      expect(await next.release()).toMatchObject([{ status: 'ready', outcome: 'applied' }]);
      expect((await checkRollout(url.toString(), names)).ok).toBe(true);
    },
  );
});
