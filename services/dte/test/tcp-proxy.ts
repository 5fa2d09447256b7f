import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (PostgreSQL, RabbitMQ) so a test can cut every connection
 * (`drop`) or refuse new ones for a while (`pause`/`resume`), as a network failure would.
 */
export interface TcpProxy {
  port: number;
  url(template: string): string;
  /** Destroy every open connection (both sides). */
  drop(): void;
  /** Refuse new connections (accepted and closed at once) and drop the open ones. */
  pause(): void;
  resume(): void;
  connections(): number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let paused = false;
  const server: Server = createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const drop = () => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port,
    url: (template) => template.replace('{port}', String(port)),
    drop,
    pause: () => {
      paused = true;
      drop();
    },
    resume: () => {
      paused = false;
    },
    connections: () => open.size / 2,
    close: () =>
      new Promise<void>((resolve) => {
        drop();
        server.close(() => resolve());
      }),
  };
}
