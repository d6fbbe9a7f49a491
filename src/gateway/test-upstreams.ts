/**
 * Test helpers (not shipped): a gateway with its own in-memory key store, and a local OpenAI-style
 * server-sent-events upstream that sends a chat completion one token at a time, records what it was
 * sent (headers, path, a chat request's body), and accepts WebSocket-style upgrades by echoing raw bytes.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeyStore } from '../keys/index.js';
import { parseGatewayConfig } from './config.js';
import { Gateway } from './gateway.js';

export interface TestGateway {
  gateway: Gateway;
  /** The gateway's key store, to create keys with. */
  keys: KeyStore;
  close(): Promise<void>;
}

/** A gateway in this process from inline YAML (paths in it relative to `dir`), with no access log and an in-memory key store. */
export async function startTestGateway(yaml: string, dir: string): Promise<TestGateway> {
  const secret = { version: 1, key: Buffer.alloc(32, 7) };
  const keys = await KeyStore.open({ store: ':memory:', secrets: { current: secret, all: [secret] } });
  try {
    const gateway = await Gateway.start({ config: parseGatewayConfig(yaml, 'inline', dir), keys, accessLog: null });
    return {
      gateway,
      keys,
      close: async () => {
        await gateway.close();
        await keys.close();
      },
    };
  } catch (err) {
    await keys.close();
    throw err;
  }
}

export interface TestSseUpstream {
  url: string;
  /** Headers of the last request, as the upstream saw them. */
  lastHeaders: () => IncomingHttpHeaders | null;
  lastTarget: () => string | null;
  /** Body of the last chat completion request. */
  lastBody: () => string | null;
  close(): Promise<void>;
}

export const SSE_TOKENS = ['Hel', 'lo', ',', ' wor', 'ld', '!'];
export const SSE_TOKEN_GAP_MS = 60;

export async function startSseUpstream(): Promise<TestSseUpstream> {
  let headers: IncomingHttpHeaders | null = null;
  let target: string | null = null;
  let body: string | null = null;
  const server: Server = createServer((req, res) => {
    headers = req.headers;
    target = req.url ?? null;
    if (req.url === '/v1/chat/completions' && req.method === 'POST') {
      let received = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (received += c));
      req.on('end', () => (body = received));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const tick = () => {
        if (i < SSE_TOKENS.length) {
          res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: SSE_TOKENS[i++] } }] })}\n\n`);
          setTimeout(tick, SSE_TOKEN_GAP_MS);
        } else res.end('data: [DONE]\n\n');
      };
      tick();
      return;
    }
    if (req.url?.startsWith('/v1/models')) {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'test-model', object: 'model' }] }));
      return;
    }
    if (req.url === '/invocations' || req.url === '/sleep' || req.url === '/collective_rpc') {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"reached":"upstream"}');
      return;
    }
    res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket, head) => {
    headers = req.headers;
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lastHeaders: () => headers,
    lastTarget: () => target,
    lastBody: () => body,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
