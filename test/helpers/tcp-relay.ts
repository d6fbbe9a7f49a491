/**
 * A loopback TCP relay: accepts on one address and port and pipes each connection to a server on another.
 * Puts a real server (or a test server bound to 127.0.0.1 on a free port) where a scan looks for it: on a
 * non-default port, or on another 127.0.0.x address at the service's default port.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  port: number;
  close(): Promise<void>;
}

/** `replyDelayMs` holds back each chunk the server sends by that long: a slow (loaded) service. */
export async function startTcpRelay(opts: { targetPort: number; targetHost?: string; host?: string; port?: number; replyDelayMs?: number }): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(opts.targetPort, opts.targetHost ?? '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => {
        sockets.delete(s);
        // One side gone: close the other, so neither end waits on a half-open pair.
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    if (!opts.replyDelayMs) upstream.pipe(client);
    else upstream.on('data', (chunk: Buffer) => setTimeout(() => client.destroyed || client.write(chunk), opts.replyDelayMs));
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  return {
    port: (relay.address() as { port: number }).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => relay.close(r));
    },
  };
}
