import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { pollUntil } from './observe.js';

const run = promisify(execFile);

/**
 * A network namespace joined to this one by a veth pair: a process started in it reaches this side
 * at `hostAddress` only over that link. `vanish()` takes this side of the link down, and from then
 * on what the process sends is dropped without an answer: no FIN, no RST, no ICMP. That is how a
 * database host that vanished (a failover that moved its address, a cut network) looks to a client
 * whose statement the server had already received, which a TCP proxy that merely stops forwarding
 * cannot show: the kernel behind the proxy still acknowledges, so TCP keepalive never fires there.
 */
export interface NetworkNamespace {
  /** This side's address on the link, to listen on for the namespace's processes. */
  readonly hostAddress: string;
  /** The namespace's address on the link, where its processes' connections come from. */
  readonly namespaceAddress: string;
  /** `command` and `args` as run in the namespace (`ip netns exec …`), for spawn(). */
  command(command: string, args: readonly string[]): [string, string[]];
  /**
   * Bytes the namespace's TCP connections to `port` on this side have sent and not yet seen
   * acknowledged (ss's Send-Q). Once 0, a connection waits on an idle socket, which keepalive
   * covers; data still unacknowledged when the link goes is the kernel's to retransmit, up to
   * net.ipv4.tcp_retries2 (about 15 minutes by default), and keepalive waits for that.
   */
  unacknowledgedBytes(port: number): Promise<number>;
  /** Drops everything on the link from now on, silently. */
  vanish(): Promise<void>;
  /** Removes the namespace and the link. */
  remove(): Promise<void>;
}

/** Whether this machine lets the tests make namespaces: root, iproute2, and a kernel with them. */
function networkNamespacesAvailable(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether the tests that need a namespace run: where one can be made, and always in CI (which runs
 * as root and installs iproute2), where a machine that cannot make one fails them instead of
 * skipping. Elsewhere they are skipped, and `file` says so.
 */
export function networkNamespaceTestsRun(file: string): boolean {
  const runs = networkNamespacesAvailable() || process.env.CI === 'true';
  if (!runs) console.warn(`${file}: skipped, it needs root and \`ip netns\` (iproute2).`);
  return runs;
}

/** Waits until the namespace's connections to `port` have nothing unacknowledged (see unacknowledgedBytes). */
export function sentBytesAcknowledged(network: NetworkNamespace, port: number): Promise<true> {
  return pollUntil(
    async () => ((await network.unacknowledgedBytes(port)) === 0 ? true : undefined),
    `the acknowledgement of everything the namespace sent to port ${port}`,
  );
}

/**
 * Creates the namespace and its link. Names and the link's /30 come from the process id, so test
 * processes that run at once (Jest's workers, CI's parallel jobs) do not meet; one at a time per
 * process.
 */
export async function createNetworkNamespace(): Promise<NetworkNamespace> {
  const tag = String(process.pid);
  const namespace = `ml-${tag}`;
  const hostSide = `mlh${tag}`;
  const namespaceSide = `mln${tag}`;
  const block = (process.pid % 16_384) * 4;
  const address = (host: number) => `10.213.${block >> 8}.${(block & 255) + host}`;
  const ip = (...args: string[]) => run('ip', args);
  const inNamespace = (...args: string[]) => ip('netns', 'exec', namespace, 'ip', ...args);
  await ip('netns', 'add', namespace);
  try {
    await ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', namespaceSide);
    await ip('link', 'set', namespaceSide, 'netns', namespace);
    await ip('addr', 'add', `${address(1)}/30`, 'dev', hostSide);
    await ip('link', 'set', hostSide, 'up');
    await inNamespace('addr', 'add', `${address(2)}/30`, 'dev', namespaceSide);
    await inNamespace('link', 'set', namespaceSide, 'up');
    await inNamespace('link', 'set', 'lo', 'up');
  } catch (error) {
    await ip('netns', 'del', namespace).catch(() => undefined);
    await ip('link', 'del', hostSide).catch(() => undefined);
    throw error;
  }
  return {
    hostAddress: address(1),
    namespaceAddress: address(2),
    command: (command, args) => ['ip', ['netns', 'exec', namespace, command, ...args]],
    unacknowledgedBytes: async (port) => {
      const { stdout } = await run('ip', [
        'netns',
        'exec',
        namespace,
        'ss',
        '-tnH',
        'dport',
        `= :${port}`,
      ]);
      // Columns: State Recv-Q Send-Q Local Peer.
      return stdout
        .split('\n')
        .filter(Boolean)
        .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[2]), 0);
    },
    vanish: async () => void (await ip('link', 'set', hostSide, 'down')),
    remove: async () => {
      await ip('netns', 'del', namespace);
      // Deleting the namespace deletes its end of the pair, and with it this one.
      await ip('link', 'del', hostSide).catch(() => undefined);
    },
  };
}
