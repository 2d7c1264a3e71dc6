import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to a PostgreSQL server that can go silent: once frozen it forwards nothing either
 * way and closes nothing, as a server host that vanished in a failover or behind a cut network
 * looks to a client (no answer, no FIN, no RST).
 */
export interface FreezableProxy {
  /** `url` with its host and port replaced by the proxy's. */
  readonly url: string;
  freeze(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(url: string): Promise<FreezableProxy> {
  const target = new URL(url);
  const sockets: Socket[] = [];
  let frozen = false;
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => void (frozen || to.write(chunk)));
    from.on('error', () => undefined);
    from.on('close', () => void (frozen || to.destroy()));
  };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.push(client, upstream);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as { port: number }).port);
  return {
    url: proxied.toString(),
    freeze: () => void (frozen = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
