/**
 * A TCP peer that misbehaves on purpose, for probe tests that prove a hostile or broken service yields no
 * false finding and never hangs a scan. It speaks no vendor protocol; each mode is one way real peers go
 * wrong on the wire.
 * - silent: accepts and reads, never answers.
 * - garbage: answers every read (and the connect) with bytes that parse as no protocol.
 * - huge-banner: floods bytes from the connect until the client goes away.
 * - close-mid-handshake: answers the first read with a few plausible bytes, then closes.
 * - close-mid-reply: greets with the start of a MySQL handshake, then answers the first read with an HTTP
 *   200 whose body stops far short of its Content-Length, and closes.
 * - tls: answers like a TLS server on a plain port (a fatal TLS alert record).
 * TLS clients meet two more (TLS_HOSTILE_MODES):
 * - tls-garbage: reads the ClientHello, answers with a TLS record header followed by bytes that are no handshake.
 * - tls-stall: reads the ClientHello, starts a ServerHello record and never finishes it.
 */
import { createServer, type Server, type Socket } from 'node:net';

export type HostileMode = 'silent' | 'garbage' | 'huge-banner' | 'close-mid-handshake' | 'close-mid-reply' | 'tls' | 'tls-garbage' | 'tls-stall';
export const HOSTILE_MODES: readonly HostileMode[] = ['silent', 'garbage', 'huge-banner', 'close-mid-handshake', 'close-mid-reply', 'tls'];
export const TLS_HOSTILE_MODES: readonly HostileMode[] = ['tls-garbage', 'tls-stall'];

export interface TestServer {
  port: number;
  close(): Promise<void>;
}

/** Binds a server on 127.0.0.1 (port 0: any free port) and tracks sockets so close() never waits on a client. */
export async function listenLoopback(server: Server, port = 0): Promise<TestServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// Bytes that no probe's framing accepts: high bit set, no line ends, no length prefix that fits.
const GARBAGE = Buffer.from('ff fe 13 37 c3 28 a0 a1 e2 28 a1 f0 28 8c bc 00 7f ee dd cc'.replace(/ /g, ''), 'hex');
const TLS_ALERT = Buffer.from('15030100020228', 'hex');
/** A MySQL packet header (length 74, sequence 0), protocol 10 and the first digit of a version: a greeting cut short. */
const MYSQL_GREETING_START = Buffer.from('4a0000000a35', 'hex');
const CUT_HTTP_REPLY = 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nOk';
/** A handshake record header (type 22, TLS 1.2, 64 bytes), then garbage where a ServerHello belongs. */
const TLS_GARBAGE_RECORD = Buffer.concat([Buffer.from('1603030040', 'hex'), Buffer.alloc(64, 0xee)]);
/** A handshake record announcing 16,000 bytes, of which only the ServerHello's first bytes ever arrive. */
const TLS_STALLED_RECORD = Buffer.from('1603033e80020000', 'hex');
const FLOOD_CHUNK = Buffer.alloc(64 * 1024, 0x41);
const FLOOD_LIMIT = 64 * 1024 * 1024;

function flood(socket: Socket): void {
  let sent = 0;
  const pump = () => {
    while (!socket.destroyed && sent < FLOOD_LIMIT) {
      sent += FLOOD_CHUNK.length;
      if (!socket.write(FLOOD_CHUNK)) return void socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
}

export function startHostileServer(mode: HostileMode, port = 0): Promise<TestServer> {
  const server = createServer((socket) => {
    switch (mode) {
      case 'silent':
        socket.resume();
        break;
      case 'garbage':
        socket.write(GARBAGE);
        socket.on('data', () => socket.write(GARBAGE));
        break;
      case 'huge-banner':
        socket.resume();
        flood(socket);
        break;
      case 'close-mid-handshake':
        socket.once('data', () => {
          socket.write(Buffer.from([0x00, 0x00, 0x01]));
          socket.end();
        });
        break;
      case 'close-mid-reply':
        socket.write(MYSQL_GREETING_START);
        socket.once('data', () => socket.end(CUT_HTTP_REPLY));
        break;
      case 'tls':
        socket.once('data', () => socket.end(TLS_ALERT));
        break;
      case 'tls-garbage':
        socket.once('data', () => socket.write(TLS_GARBAGE_RECORD));
        socket.resume();
        break;
      case 'tls-stall':
        socket.once('data', () => socket.write(TLS_STALLED_RECORD));
        socket.resume();
        break;
    }
  });
  return listenLoopback(server, port);
}

export interface HostilePeers {
  /** One port a mode, in the order of the modes asked for. */
  ports: number[];
  byMode: Record<HostileMode, number>;
  close(): Promise<void>;
}

/** One peer a mode at once, for tests that scan them all together. */
export async function startHostilePeers(modes: readonly HostileMode[] = HOSTILE_MODES): Promise<HostilePeers> {
  const servers = await Promise.all(modes.map((mode) => startHostileServer(mode)));
  return {
    ports: servers.map((s) => s.port),
    byMode: Object.fromEntries(modes.map((mode, i) => [mode, servers[i]!.port])) as Record<HostileMode, number>,
    close: async () => void (await Promise.all(servers.map((s) => s.close()))),
  };
}

/**
 * A look-alike: a peer that says what the real service says to the first harmless request, and then
 * whatever `answer` returns: plausible bytes that are no proof of access. `answer` gets each request as it
 * arrives and its index on that connection (0 first); undefined sends nothing. `greeting` is sent on
 * connect, for protocols where the server speaks first.
 */
export function startLookAlike(
  answer: (request: Buffer, index: number) => Buffer | string | undefined,
  opts: { greeting?: Buffer | string; port?: number } = {},
): Promise<TestServer> {
  const server = createServer((socket) => {
    let index = 0;
    if (opts.greeting) socket.write(opts.greeting);
    socket.on('data', (request: Buffer) => {
      const reply = answer(request, index++);
      if (reply !== undefined) socket.write(reply);
    });
  });
  return listenLoopback(server, opts.port);
}

/** An HTTP/1.1 200 with `body`, closing the connection: what a catch-all web server answers to every path. */
export const http200 = (body: string) =>
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
