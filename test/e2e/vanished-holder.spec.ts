import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type pg from 'pg';
import { GATE_LOCK, SCENARIOS } from '../../reference/demo/scenario-migrations.js';
import { withDatabase } from '../../reference/runtime/connection-url.js';
import {
  startEmbeddedPostgres,
  type LocalPostgres,
} from '../../reference/runtime/embedded-postgres.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { appliedOnce, migrationCounts } from '../support/migration-fixtures.js';
import {
  createNetworkNamespace,
  networkNamespaceTestsRun,
  sentBytesAcknowledged,
  type NetworkNamespace,
} from '../support/network-namespace.js';
import { advisoryLockRows, pollUntil, waiterOnGate } from '../support/observe.js';
import { connectClient } from '../support/test-database.js';

/*
 * The host of the replica holding the migration lock vanishes mid-migration (a node failure, a
 * network partition): no FIN, no RST ever reaches the server. The server must end that backend,
 * and with it the lock and the half-done run, soon (the lock connection's tcp_keepalives_*), not
 * after the kernel's default of over two hours while every other replica times out behind it.
 * The server sees the CLI's own socket here, so this file starts a PostgreSQL of its own that also
 * listens on this side of the namespace's link (see network-namespace.ts).
 */
const CLI = 'dist/esm/cli/main.js';
const DATA_SOURCE = 'test/fixtures/data-source.mjs';
const KEY = advisoryLockKey('migrations', 'Migrations');
const runFile = promisify(execFile);
// The server's probes take about 20 s (KEEPALIVE_IDLE_MS + 10 × 1 s); its default is hours.
const SERVER_NOTICES_WITHIN_MS = 60_000;

const describeWithNamespaces = networkNamespaceTestsRun('vanished-holder.spec')
  ? describe
  : describe.skip;

describeWithNamespaces('a lock holder whose host vanishes mid-migration', () => {
  let network: NetworkNamespace;
  let server: LocalPostgres;
  let observer: pg.Client;
  let databaseUrl: string;

  beforeAll(async () => {
    network = await createNetworkNamespace();
    server = await startEmbeddedPostgres({
      fast: true,
      alsoListenOn: { address: network.hostAddress, clients: `${network.namespaceAddress}/32` },
    });
    const admin = await connectClient(server.url, 'admin');
    await admin.query('CREATE DATABASE vanished_holder');
    await admin.end();
    databaseUrl = withDatabase(server.url, 'vanished_holder');
    observer = await connectClient(databaseUrl, 'observer');
  });

  afterAll(async () => {
    await observer?.end();
    await server?.stop();
    await network?.remove();
  });

  it('the server ends its backend: the lock passes on and nothing of its run is committed', async () => {
    await observer.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    // The holder: the CLI in the namespace, straight to the server over the link.
    const overTheLink = new URL(databaseUrl);
    overTheLink.hostname = network.hostAddress;
    const [command, args] = network.command(process.execPath, [CLI, 'run', '-d', DATA_SOURCE]);
    const holder = spawn(command, args, {
      env: { ...process.env, DATABASE_URL: overTheLink.toString(), EXTRA_SCENARIOS: 'gate' },
      stdio: 'ignore',
    });
    const holderExited = new Promise((resolve) => holder.once('close', resolve));
    try {
      // Mid-migration (waiting at the gate), every byte it sent acknowledged: then the link goes.
      await waiterOnGate(observer, GATE_LOCK);
      await sentBytesAcknowledged(network, Number(overTheLink.port));
      await network.vanish();
      // The gate is still closed: the lock can only be free because the server ended the holder.
      await pollUntil(
        async () => ((await advisoryLockRows(observer, KEY)).length === 0 ? true : undefined),
        'the server to end the vanished holder and free the migration lock',
        SERVER_NOTICES_WITHIN_MS,
      );
      const { rows } = await observer.query("SELECT to_regclass('migrations') AS migrations");
      expect(rows[0].migrations).toBeNull();
    } finally {
      holder.kill('SIGKILL');
      await holderExited;
      await observer.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    }
    // Another replica, on this side, then applies every migration once.
    await runFile(process.execPath, [CLI, 'run', '-d', DATA_SOURCE], {
      env: { ...process.env, DATABASE_URL: databaseUrl, EXTRA_SCENARIOS: 'gate' },
    });
    const gate = Object.fromEntries(SCENARIOS.gate.map((Migration) => [new Migration().name, 1]));
    expect(await migrationCounts((sql) => observer.query(sql))).toEqual({
      ...appliedOnce,
      ...gate,
    });
  });
});
