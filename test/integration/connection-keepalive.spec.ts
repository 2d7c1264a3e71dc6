import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { DataSource, EntityManager } from 'typeorm';
import { AdvisoryLockService } from '../../src/lock/advisory-lock.service.js';
import { createTestDatabase, openDataSource, type TestDatabase } from '../support/test-database.js';

/*
 * The module switches TCP keepalive on for a pooled connection when a lock first uses it, and
 * leaves it on (see connection-keepalive.ts), unless the app set keepAlive itself, true or false.
 * Read off the kernel: `ss -o` shows a keepalive timer on a socket that has keepalive on. The
 * server is asked to probe the connection too (serverProbesSql), once per connection: read off
 * the session. What the probes then do for a vanished host: e2e/vanished-server.spec (the
 * client's) and e2e/vanished-holder.spec (the server's).
 */
const run = promisify(execFile);
const ssAvailable = spawnSync('ss', ['-V'], { stdio: 'ignore' }).status === 0;
const describeWithSs = ssAvailable ? describe : describe.skip;

/** Whether this machine's socket from local `port` to PostgreSQL has keepalive on. */
async function keepAliveOn(port: number): Promise<boolean> {
  const { stdout } = await run('ss', ['-tnoH', 'state', 'established', `( sport = :${port} )`]);
  if (!stdout.trim()) throw new Error(`no established socket from local port ${port}`);
  return stdout.includes('timer:(keepalive');
}

/** The local port of the connection `manager` runs on, as the server sees it (no proxy here). */
async function localPort(manager: Pick<EntityManager, 'query'>): Promise<number> {
  const [row] = (await manager.query('SELECT inet_client_port() AS port')) as [{ port: number }];
  return row.port;
}

describe('TCP keepalive on the connections a lock uses', () => {
  let db: TestDatabase;
  const dataSources: DataSource[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('keepalive');
  });

  afterAll(async () => {
    await Promise.all(dataSources.map((dataSource) => dataSource.destroy()));
    await db.drop();
  });

  async function onePooledConnection(extra: Record<string, unknown> = {}) {
    const dataSource = await openDataSource(db.url, { poolSize: 1, extra });
    dataSources.push(dataSource);
    return dataSource;
  }

  describeWithSs("the client's socket (read off ss)", () => {
    it('is switched on when a lock first uses a connection, and stays on in the pool', async () => {
      const dataSource = await onePooledConnection();
      const port = await localPort(dataSource);
      expect(await keepAliveOn(port)).toBe(false);
      const locks = new AdvisoryLockService(dataSource);
      const onWhileHeld = await locks.withLock('keepalive', 'test', async (manager) => {
        expect(await localPort(manager)).toBe(port);
        return keepAliveOn(port);
      });
      expect(onWhileHeld).toBe(true);
      expect(await keepAliveOn(port)).toBe(true);
    });

    it.each([true, false])(
      "is left as the app set it: the pg pool's keepAlive %s stays so",
      async (keepAlive) => {
        const dataSource = await onePooledConnection({ keepAlive });
        const port = await localPort(dataSource);
        expect(await keepAliveOn(port)).toBe(keepAlive);
        await new AdvisoryLockService(dataSource).withLock(
          'keepalive',
          'test',
          async () => undefined,
        );
        expect(await keepAliveOn(port)).toBe(keepAlive);
      },
    );
  });

  describe("the server's probes", () => {
    const probeIdle = async (manager: Pick<EntityManager, 'query'>) =>
      ((await manager.query('SHOW tcp_keepalives_idle')) as [{ tcp_keepalives_idle: string }])[0]
        .tcp_keepalives_idle;

    it('stay with the session once a lock that sent them commits', async () => {
      const dataSource = await onePooledConnection();
      const before = await probeIdle(dataSource);
      expect(before).not.toBe('10');
      const locks = new AdvisoryLockService(dataSource);
      expect(await locks.withLock('probes', 'test', (manager) => probeIdle(manager))).toBe('10');
      expect(await probeIdle(dataSource)).toBe('10');
    });

    it('are sent again by the next lock when the one that sent them rolled back', async () => {
      const dataSource = await onePooledConnection();
      const before = await probeIdle(dataSource);
      const locks = new AdvisoryLockService(dataSource);
      const failing = locks.withLock('probes', 'test', async () => {
        throw new Error('work failed');
      });
      await expect(failing).rejects.toThrow('work failed');
      // The rollback undid them: a connection marked as probed here would never be probed.
      expect(await probeIdle(dataSource)).toBe(before);
      expect(await locks.withLock('probes', 'test', (manager) => probeIdle(manager))).toBe('10');
    });
  });
});
