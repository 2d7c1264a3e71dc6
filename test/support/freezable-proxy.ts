import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to a PostgreSQL server whose connections can go silent: once frozen, they forward
 * nothing either way and close nothing, as connections to a server host that vanished in a
 * failover, or behind a cut network, look to a client (no answer, no FIN, no RST). Connections
 * made after the freeze reach the server, as new ones reach the new primary after a failover.
 */
export interface FreezableProxy {
  /** `url` with its host and port replaced by the proxy's. */
  readonly url: string;
  readonly port: number;
  /** Silences every connection open now. */
  freeze(): void;
  close(): Promise<void>;
}

/** Listens on `listenOn` (an address of this machine), forwarding to `url`'s server. */
export async function startFreezableProxy(
  url: string,
  listenOn = '127.0.0.1',
): Promise<FreezableProxy> {
  const target = new URL(url);
  const open = new Set<{ frozen: boolean; sockets: Socket[] }>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    const pair = { frozen: false, sockets: [client, upstream] };
    open.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => void (pair.frozen || to.write(chunk)));
      from.on('error', () => undefined);
      from.on('close', () => void (pair.frozen || to.destroy()));
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, listenOn, resolve));
  const proxied = new URL(url);
  proxied.hostname = listenOn;
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    port: Number(proxied.port),
    freeze: () => {
      for (const pair of open) pair.frozen = true;
    },
    close: async () => {
      for (const pair of open) for (const socket of pair.sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
