import { spawn, type ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { GATE_LOCK } from '../../reference/demo/scenario-migrations.js';
import { advisoryLockKey } from '../../src/lock/lock-key.js';
import { startFreezableProxy, type FreezableProxy } from '../support/freezable-proxy.js';
import {
  createNetworkNamespace,
  networkNamespaceTestsRun,
  sentBytesAcknowledged,
  type NetworkNamespace,
} from '../support/network-namespace.js';
import { advisoryLockRows, pollUntil, waiterOnGate, waitersFor } from '../support/observe.js';
import { connectClient, createTestDatabase, type TestDatabase } from '../support/test-database.js';

/*
 * The server's host vanishes while the CLI (an init container) waits for an answer it will never
 * get: a migration statement the server received, or a lock wait with --timeout 0 ("forever").
 * No timer of the module may end those waits; TCP keepalive on the lock's connection must, and
 * the CLI must exit non-zero saying the lock was lost, instead of hanging the rollout forever.
 * The CLI runs in a network namespace whose link to this one is taken down (see
 * network-namespace.ts); it reaches the server through a proxy on this side of the link.
 */
const CLI = 'dist/esm/cli/main.js';
const DATA_SOURCE = 'test/fixtures/data-source.mjs';
const KEY = advisoryLockKey('migrations', 'Migrations');

interface Exit {
  code: number | null;
  stderr: string;
}

const describeWithNamespaces = networkNamespaceTestsRun('vanished-server.spec')
  ? describe
  : describe.skip;

describeWithNamespaces('a server host that vanishes while the CLI waits for its answer', () => {
  let db: TestDatabase;
  let observer: pg.Client;
  let network: NetworkNamespace;
  let proxy: FreezableProxy;
  let cli: ChildProcess | undefined;

  beforeEach(async () => {
    db = await createTestDatabase('vanished_server');
    observer = await connectClient(db.url, 'observer');
    network = await createNetworkNamespace();
    proxy = await startFreezableProxy(db.url, network.hostAddress);
  });

  afterEach(async () => {
    // A CLI that did not exit (the test failed) must not outlive it.
    if (cli?.exitCode === null) cli.kill('SIGKILL');
    // The proxy first: its end of the server's connections closes, and the server ends the backend.
    await proxy.close();
    await network.remove();
    await observer.end();
    await db.drop();
  });

  /** The CLI in the namespace, on the proxy's address; resolves when it exits. */
  function cliInNamespace(args: string[], env: Record<string, string> = {}): Promise<Exit> {
    const [command, commandArgs] = network.command(process.execPath, [CLI, ...args]);
    const child = (cli = spawn(command, commandArgs, {
      env: { ...process.env, DATABASE_URL: proxy.url, ...env },
    }));
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdout.resume();
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
  }

  /** Resolves once no session holds or waits for the migration lock. */
  const migrationLockFree = () =>
    pollUntil(
      async () => ((await advisoryLockRows(observer, KEY)).length === 0 ? true : undefined),
      'the migration lock freed',
    );

  it('mid-migration: exits 1, the lock lost, and nothing of the run is committed', async () => {
    await observer.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const exited = cliInNamespace(['run', '-d', DATA_SOURCE], { EXTRA_SCENARIOS: 'gate' });
    // The Gate migration's statement has reached the server and waits there: once the server's
    // acknowledgement is in, the CLI waits for an answer on an idle socket.
    await waiterOnGate(observer, GATE_LOCK);
    await sentBytesAcknowledged(network, proxy.port);
    await network.vanish();
    const { code, stderr } = await exited;
    expect(stderr).toContain('Lost advisory lock "migrations/Migrations"');
    expect(stderr).toContain('What ended it: read ETIMEDOUT');
    expect(code).toBe(1);
    // Its server session ends with the proxy's connection: the lock is freed, the run rolled back.
    await proxy.close();
    await observer.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
    await migrationLockFree();
    const { rows } = await observer.query("SELECT to_regclass('migrations') AS migrations");
    expect(rows[0].migrations).toBeNull();
  });

  it('waiting with --timeout 0: exits 1, the connection lost while waiting', async () => {
    await observer.query('BEGIN');
    await observer.query('SELECT pg_advisory_xact_lock($1::int4, $2::int4)', [...KEY]);
    const exited = cliInNamespace(['run', '-d', DATA_SOURCE, '--timeout', '0']);
    await waitersFor(observer, KEY);
    await sentBytesAcknowledged(network, proxy.port);
    await network.vanish();
    const { code, stderr } = await exited;
    expect(stderr).toContain('Lost the connection while waiting for advisory lock');
    expect(stderr).toContain('What ended it: read ETIMEDOUT');
    expect(code).toBe(1);
    await observer.query('ROLLBACK');
  });
});
