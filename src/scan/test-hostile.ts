/**
 * Test helper (not shipped): loopback servers that misbehave the ways hostile or broken peers do, one
 * port per behaviour. Probes must turn each into nothing or `auth: unknown`, within their timeouts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export type HostileBehaviour = 'garbage' | 'flood' | 'silent' | 'close-mid-reply' | 'tls';

export interface HostileServer {
  ports: number[];
  byBehaviour: Record<HostileBehaviour, number>;
  close(): Promise<void>;
}

/** A TLS alert record (fatal, protocol_version), what a TLS listener sends to a plaintext hello. */
const TLS_ALERT = Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);

const behaviours: Record<HostileBehaviour, (socket: Socket) => void> = {
  garbage: (socket) => {
    socket.write(randomBytes(300));
    socket.on('data', () => socket.write(randomBytes(700)));
  },
  flood: (socket) => {
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let sent = 0;
    const pump = () => {
      while (sent < 64 * 1024 * 1024 && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  },
  silent: () => {},
  'close-mid-reply': (socket) => {
    socket.on('data', () => {
      socket.end(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nOk'));
    });
    socket.write(Buffer.from([0x4a, 0x00, 0x00, 0x00, 0x0a, 0x35]));
  },
  tls: (socket) => {
    socket.once('data', () => socket.end(TLS_ALERT));
  },
};

export async function startHostileServer(host = '127.0.0.1'): Promise<HostileServer> {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const byBehaviour = {} as Record<HostileBehaviour, number>;
  for (const [name, behave] of Object.entries(behaviours) as Array<[HostileBehaviour, (s: Socket) => void]>) {
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
      behave(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    servers.push(server);
    byBehaviour[name] = (server.address() as { port: number }).port;
  }
  return {
    ports: Object.values(byBehaviour),
    byBehaviour,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}
