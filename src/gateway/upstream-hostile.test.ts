/**
 * The gateway in front of hostile and unusual HTTP/1.1 upstreams. The upstream here is a raw
 * node:net server that writes HTTP/1.1 (RFC 9112) byte for byte on purpose: an HTTP server library
 * would refuse to produce most of these answers, and their framing (lengths, chunks, what follows a
 * response) is what is under test. Only what the gateway's own client sees is checked, and that the
 * gateway keeps serving, so the checks hold whatever HTTP client the gateway uses upstream. The
 * gateway runs in this process, but for one case that could leave it unable to close (see there).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestGateway, type TestGateway } from './test-upstreams.js';

const UPSTREAM_TIMEOUT_MS = 1500;
/** A bound on every client exchange, so a hang fails its own test instead of the whole file. */
const CLIENT_LIMIT_MS = 10_000;
/** For the exchanges that once hung (undici's client): long enough for a correct answer, short enough to fail fast. */
const SHORT_LIMIT_MS = 3000;
const BIG_BODY = randomBytes(20 * 1024 * 1024);
const WRITE_SIZE = 64 * 1024;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Bytes from a socket, taken as the parser asks for them. */
class SocketReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private closed = false;
  private wake: (() => void) | null = null;

  constructor(socket: Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private flat(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number, skip: number): Buffer {
    const all = this.flat();
    const taken = all.subarray(0, n);
    const rest = all.subarray(n + skip);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return taken;
  }

  /** Waits for more bytes; false once the connection is gone. */
  private more(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => (this.wake = () => resolve(!this.closed || this.length > 0)));
  }

  /** The bytes before `delimiter` (which is consumed too), or null if the connection ends first. */
  async until(delimiter: string): Promise<Buffer | null> {
    for (;;) {
      const at = this.length ? this.flat().indexOf(delimiter, 0, 'latin1') : -1;
      if (at >= 0) return this.consume(at, delimiter.length);
      if (!(await this.more()) && this.flat().indexOf(delimiter, 0, 'latin1') < 0) return null;
    }
  }

  async take(n: number): Promise<Buffer | null> {
    while (this.length < n) if (!(await this.more()) && this.length < n) return null;
    return this.consume(n, 0);
  }
}

interface RawRequest {
  method: string;
  path: string;
  /** Which request this is on its connection, from 1. */
  nth: number;
  /** The request line and header block exactly as received. */
  head: string;
  headers: Map<string, string>;
  /** Reads the body by its framing (length or chunked); null if the connection ended inside it. */
  body: () => Promise<Buffer | null>;
}

/** What the connection does after an answer: wait for the next request, or stop reading it. */
type Outcome = 'keep' | 'stop';
type Answer = (request: RawRequest, socket: Socket) => Outcome | Promise<Outcome>;

async function readBody(reader: SocketReader, headers: Map<string, string>): Promise<Buffer | null> {
  if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const line = await reader.until('\r\n');
      if (line === null) return null;
      const size = parseInt(line.toString('latin1').split(';')[0]!, 16);
      if (size === 0) break;
      const part = await reader.take(size);
      if (part === null || (await reader.until('\r\n')) === null) return null;
      parts.push(part);
    }
    for (;;) {
      const trailer = await reader.until('\r\n');
      if (trailer === null) return null;
      if (trailer.length === 0) return Buffer.concat(parts);
    }
  }
  const length = Number(headers.get('content-length') ?? 0);
  return length ? reader.take(length) : Buffer.alloc(0);
}

function response(status: string, body: string | Buffer, extraHeaders = ''): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${bytes.length}\r\n${extraHeaders}\r\n`, 'latin1'),
    bytes,
  ]);
}

/** Resolves when the socket can take more, or is gone. */
function writable(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

const ANSWERS: Record<string, Answer> = {
  '/ok': (_req, socket) => (socket.write(response('200 OK', 'ok')), 'keep'),
  '/case/garbage': (_req, socket) => (socket.write('this is not an HTTP response at all\r\n\r\n'), 'keep'),
  '/case/two-lengths': (_req, socket) => (socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'), 'keep'),
  '/case/length-list': (_req, socket) => (socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!'), 'keep'),
  '/case/length-and-chunked': (_req, socket) => (
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'),
    'keep'
  ),
  // A gzip transfer coding under the chunks: relayed re-chunked, the client would get gzip bytes with nothing saying so.
  '/case/gzip-chunked': (_req, socket) => (socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'), 'keep'),
  '/case/huge-head': (_req, socket) => {
    const lines = Array.from({ length: 110 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(1000)}\r\n`).join('');
    socket.write(`HTTP/1.1 200 OK\r\n${lines}Content-Length: 2\r\n\r\nok`);
    return 'keep';
  },
  '/case/short-body': (_req, socket) => {
    socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789');
    return 'stop';
  },
  '/case/dribble': async (_req, socket): Promise<Outcome> => {
    const bytes = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: ${'.'.repeat(60)}\r\nContent-Length: 2\r\n\r\nok`);
    let sent = 0;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (socket.destroyed || sent === bytes.length) {
          clearInterval(timer);
          return resolve();
        }
        socket.write(bytes.subarray(sent, ++sent));
      }, 100);
    });
    socket.end();
    return 'stop';
  },
  '/case/chunked-extensions': (_req, socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
        '5;ext=1\r\nhello\r\n' +
        '7;name="quoted;value"\r\n, world\r\n' +
        '0000A;last\r\n from afar\r\n' +
        '0;done=1\r\nX-Checksum: 4f2a\r\nX-Other: yes\r\n\r\n',
    );
    return 'keep';
  },
  '/case/close-delimited': async (_req, socket): Promise<Outcome> => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nfirst part, ');
    await new Promise((r) => setTimeout(r, 50));
    socket.write('second part, ');
    await new Promise((r) => setTimeout(r, 50));
    socket.end('and the end');
    return 'stop';
  },
  '/case/head': (req, socket) => {
    if (req.method === 'HEAD') socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n');
    else socket.write(response('200 OK', 'x'.repeat(1000)));
    return 'keep';
  },
  '/case/no-content': (_req, socket) => (socket.write('HTTP/1.1 204 No Content\r\nX-Case: no-content\r\n\r\n'), 'keep'),
  '/case/not-modified': (_req, socket) => (socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'), 'keep'),
  // A 304 may carry the length of the representation it stands for (RFC 9110, 8.6); it still has no body.
  '/case/not-modified-with-length': (_req, socket) => (socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1000\r\n\r\n'), 'keep'),
  '/case/early-hints': (_req, socket) => {
    socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n');
    socket.write(response('200 OK', 'after the hints'));
    return 'keep';
  },
  '/case/big': async (_req, socket): Promise<Outcome> => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${BIG_BODY.length}\r\n\r\n`);
    for (let at = 0; at < BIG_BODY.length && !socket.destroyed; at += WRITE_SIZE) {
      if (!socket.write(BIG_BODY.subarray(at, at + WRITE_SIZE))) await writable(socket);
    }
    return 'keep';
  },
  '/case/echo': async (req, socket): Promise<Outcome> => {
    const body = await req.body();
    if (body === null) return 'stop';
    const framing = req.headers.get('transfer-encoding') ?? `length ${req.headers.get('content-length')}`;
    socket.write(response('200 OK', JSON.stringify({ length: body.length, sha256: sha256(body), framing, head: req.head })));
    return 'keep';
  },
  '/case/too-large': (_req, socket) => {
    // Answers on the headers alone and leaves the body unread; closing with it unread resets the connection.
    socket.pause();
    socket.end(response('413 Content Too Large', '{"error":"too large"}', 'Connection: close\r\n'));
    setTimeout(() => socket.destroy(), 100);
    return 'stop';
  },
  // What a keep-alive race looks like from the proxy: a connection it reuses is gone before any answer.
  '/case/reset-when-reused': (req, socket) => {
    if (req.nth > 1) return (socket.destroy(), 'stop');
    socket.write(response('200 OK', 'fresh connection'));
    return 'keep';
  },
  '/case/idle-close': (_req, socket) => {
    socket.write(response('200 OK', 'closing soon'));
    setTimeout(() => socket.end(), 100);
    return 'keep';
  },
  // Short lines of one repeated name: many fields in a small block, so the count is what is tested, not the size.
  '/case/many-headers': (_req, socket) => {
    const lines = Array.from({ length: 3000 }, (_, i) => `a:${i % 10}\r\n`).join('');
    socket.write(`HTTP/1.1 200 OK\r\n${lines}Content-Length: 2\r\n\r\nok`);
    return 'keep';
  },
};

/** Every request answered twice: its own response, and a complete second one nobody asked for. */
const smuggling: Answer = (req, socket) => {
  const n = req.path.slice('/case/smuggle/'.length);
  socket.write(Buffer.concat([response('200 OK', `real-${n}`), response('200 OK', 'SMUGGLED')]));
  return 'keep';
};

const notFound: Answer = (_req, socket) => (socket.write(response('404 Not Found', 'no such case')), 'keep');

async function serveConnection(socket: Socket): Promise<void> {
  const reader = new SocketReader(socket);
  for (let nth = 1; ; nth++) {
    const head = await reader.until('\r\n\r\n');
    if (head === null) return;
    const text = head.toString('latin1');
    const [requestLine, ...lines] = text.split('\r\n');
    const [method = '', target = ''] = requestLine!.split(' ');
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    let body: Promise<Buffer | null> | null = null;
    const path = target.split('?')[0]!;
    const req: RawRequest = { method, path, nth, head: text, headers, body: () => (body ??= readBody(reader, headers)) };
    const answer = ANSWERS[path] ?? (path.startsWith('/case/smuggle/') ? smuggling : notFound);
    if ((await answer(req, socket)) === 'stop') return;
    // The next request starts after this one's body, read or not.
    if ((await req.body()) === null) return;
  }
}

interface RawUpstream {
  url: string;
  close(): Promise<void>;
}

async function startRawUpstream(): Promise<RawUpstream> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // The gateway may drop a connection mid-write on purpose; that is not this server's failure.
    socket.on('error', () => socket.destroy());
    void serveConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Reply {
  /** 0 when no response head arrived. */
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The response ended as its framing said it would. */
  complete: boolean;
  error: string | null;
  reusedSocket: boolean;
  elapsedMs: number;
}

/** A gateway as its clients reach it. */
interface Via {
  url: string;
  key: string;
  agent: Agent;
}

/** One exchange through a gateway; never rejects, so a broken response can be looked at. */
function ask(via: Via, path: string, options: { method?: string; body?: Buffer | Buffer[]; maxHeaderSize?: number; limitMs?: number } = {}): Promise<Reply> {
  const u = new URL(via.url);
  const started = Date.now();
  const { body } = options;
  return new Promise((resolve) => {
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    let complete = false;
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(limit);
      resolve({ status, headers, body: Buffer.concat(chunks), complete, error, reusedSocket: req.reusedSocket, elapsedMs: Date.now() - started });
    };
    const req = request(
      {
        agent: via.agent,
        host: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path,
        headers: { 'x-api-key': via.key, ...(Buffer.isBuffer(body) ? { 'content-length': String(body.length) } : {}) },
        ...(options.maxHeaderSize ? { maxHeaderSize: options.maxHeaderSize } : {}),
      },
      (res) => {
        status = res.statusCode ?? 0;
        headers = res.headers;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          complete = res.complete;
          finish(null);
        });
        res.on('error', (err) => finish(err.message));
        res.on('close', () => finish(res.complete ? null : 'response closed before its end'));
      },
    );
    // A timer of its own, settling at once: a request still queued for the agent's socket has no
    // socket to time out, and destroying it reports no error until it gets one.
    const limitMs = options.limitMs ?? CLIENT_LIMIT_MS;
    const limit = setTimeout(() => {
      finish(`no answer within ${limitMs} ms`);
      req.destroy();
    }, limitMs);
    req.on('error', (err) => finish(err.message));
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

async function assertServing(via: Via): Promise<void> {
  const r = await ask(via, '/ok');
  assert.deepEqual([r.status, r.body.toString(), r.complete, r.error], [200, 'ok', true, null], 'a normal request afterwards');
}

function assertBadGateway(r: Reply, what: string): void {
  assert.equal(r.status, 502, `${what}: ${r.status} ${r.error ?? ''} ${r.body.toString().slice(0, 200)}`);
  assert.equal(r.complete, true, what);
  assert.equal(typeof (JSON.parse(r.body.toString()) as { error?: unknown }).error, 'string', `${what}: a JSON body with an error`);
}

const PROFILE = `kind: raw-upstream
endpoints:
  - { name: ok, path: /ok, methods: [GET], class: read }
  - { name: cases, path: /case/*, methods: [GET, HEAD, POST], class: read }
`;

function gatewayConfig(upstreamUrl: string): string {
  return `
listen: { port: 0 }
routes:
  - name: raw
    upstream: { url: "${upstreamUrl}", profile: ./raw-upstream.yaml, timeoutMs: ${UPSTREAM_TIMEOUT_MS} }
    allow:
      - { classes: [read], scopes: ["raw:read"] }
`;
}

/** The same gateway as in this process, started by `node` in a child, which prints its address and key. */
function childGatewayScript(upstreamUrl: string, dir: string): string {
  const helpers = fileURLToPath(new URL('./test-upstreams.ts', import.meta.url));
  return `
const { startTestGateway } = await import(${JSON.stringify(helpers)});
const { gateway, keys } = await startTestGateway(${JSON.stringify(gatewayConfig(upstreamUrl))}, ${JSON.stringify(dir)});
const { key } = await keys.create({ owner: 'test', name: 'hostile-upstreams', scopes: ['raw:read'] });
process.stdout.write(JSON.stringify({ url: gateway.url, key }) + '\\n');
`;
}

async function startChildGateway(upstreamUrl: string, dir: string): Promise<{ child: ChildProcess; url: string; key: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', childGatewayScript(upstreamUrl, dir)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('\n')) resolve({ child, ...(JSON.parse(stdout) as { url: string; key: string }) });
    });
    child.once('exit', (code) => reject(new Error(`the child gateway exited (${code}): ${stderr.slice(-2000)}`)));
  });
}

describe('warden gateway in front of hostile HTTP/1.1 upstreams', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-hostile-upstream-'));
  let upstream: RawUpstream;
  let gw: TestGateway;
  // Keep-alive with one connection: sequential requests share it, as a real client's would.
  const via: Via = { url: '', key: '', agent: new Agent({ keepAlive: true, maxSockets: 1 }) };

  before(async () => {
    upstream = await startRawUpstream();
    writeFileSync(join(dir, 'raw-upstream.yaml'), PROFILE);
    gw = await startTestGateway(gatewayConfig(upstream.url), dir);
    via.key = (await gw.keys.create({ owner: 'test', name: 'hostile-upstreams', scopes: ['raw:read'] })).key;
    via.url = gw.gateway.url;
  });

  after(async () => {
    via.agent.destroy();
    await gw?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 502 with a JSON error to garbage instead of a status line', async () => {
    assertBadGateway(await ask(via, '/case/garbage'), 'garbage');
    await assertServing(via);
  });

  it('answers 502 to two different Content-Length values, as two fields or as one list', async () => {
    assertBadGateway(await ask(via, '/case/two-lengths'), 'two fields');
    assertBadGateway(await ask(via, '/case/length-list'), 'one list');
    await assertServing(via);
  });

  it('answers 502 to both Content-Length and Transfer-Encoding: chunked', async () => {
    assertBadGateway(await ask(via, '/case/length-and-chunked'), 'length and chunked');
    await assertServing(via);
  });

  it('answers 502 to Transfer-Encoding: gzip, chunked, which it cannot pass on as it came', async () => {
    assertBadGateway(await ask(via, '/case/gzip-chunked'), 'gzip, chunked');
    await assertServing(via);
  });

  it('answers 502 to a response header block over 100 KB', async () => {
    assertBadGateway(await ask(via, '/case/huge-head'), 'huge head');
    await assertServing(via);
  });

  it('does not pass off a body cut short by the upstream as a complete response', async () => {
    const r = await ask(via, '/case/short-body');
    assert.ok(r.body.length < 1000, `got ${r.body.length} bytes`);
    assert.ok(r.status !== 200 || !r.complete, `status ${r.status}, complete ${r.complete}: the client must see the cut`);
    await assertServing(via);
  });

  it('answers 504 to headers dribbled a byte at a time: the header timeout is absolute', async () => {
    const r = await ask(via, '/case/dribble');
    assert.equal(r.status, 504, `${r.status} ${r.error ?? ''} ${r.body.toString()}`);
    assert.equal((JSON.parse(r.body.toString()) as { error: string }).error, 'upstream_timeout');
    assert.ok(r.elapsedMs < UPSTREAM_TIMEOUT_MS + 1000, `took ${r.elapsedMs} ms`);
    await assertServing(via);
  });

  it('never hands a client the extra response an upstream sends after a complete one', async () => {
    for (let n = 1; n <= 6; n++) {
      const r = await ask(via, `/case/smuggle/${n}`);
      assert.deepEqual([r.status, r.body.toString(), r.complete], [200, `real-${n}`, true], `request ${n}`);
      if (n > 1) assert.ok(r.reusedSocket, `request ${n} went over the kept-alive client connection`);
    }
    await assertServing(via);
  });

  it('delivers a chunked body with chunk extensions and trailers intact', async () => {
    const r = await ask(via, '/case/chunked-extensions');
    assert.deepEqual([r.status, r.body.toString(), r.complete, r.error], [200, 'hello, world from afar', true, null]);
    await assertServing(via);
  });

  it('delivers a body delimited by the upstream closing the connection intact', async () => {
    const r = await ask(via, '/case/close-delimited');
    assert.deepEqual([r.status, r.body.toString(), r.complete, r.error], [200, 'first part, second part, and the end', true, null]);
    await assertServing(via);
  });

  it('completes a HEAD answered with Content-Length: 1000 and no body, and a GET after it', async () => {
    const head = await ask(via, '/case/head', { method: 'HEAD' });
    assert.deepEqual([head.status, head.body.length, head.complete, head.error], [200, 0, true, null]);
    assert.equal(head.headers['content-length'], '1000');
    const get = await ask(via, '/case/head');
    assert.deepEqual([get.status, get.body.toString(), get.complete], [200, 'x'.repeat(1000), true]);
    await assertServing(via);
  });

  it('completes 204 and 304 answers without a body', async () => {
    const noContent = await ask(via, '/case/no-content');
    assert.deepEqual([noContent.status, noContent.body.length, noContent.complete, noContent.error], [204, 0, true, null]);
    assert.equal(noContent.headers['x-case'], 'no-content');
    await assertServing(via);
    const notModified = await ask(via, '/case/not-modified');
    assert.deepEqual([notModified.status, notModified.body.length, notModified.complete, notModified.error], [304, 0, true, null]);
    assert.equal(notModified.headers.etag, '"v1"');
    await assertServing(via);
  });

  it('completes a 304 that carries the Content-Length of the representation', async () => {
    const r = await ask(via, '/case/not-modified-with-length', { limitMs: SHORT_LIMIT_MS });
    assert.deepEqual([r.status, r.body.length, r.complete, r.error], [304, 0, true, null]);
    await assertServing(via);
  });

  it('gives the client the final answer after a 103 Early Hints', async () => {
    const r = await ask(via, '/case/early-hints');
    assert.deepEqual([r.status, r.body.toString(), r.complete, r.error], [200, 'after the hints', true, null]);
    await assertServing(via);
  });

  it('relays a 20 MB body written in 64 KB pieces byte for byte', async () => {
    const r = await ask(via, '/case/big');
    assert.deepEqual([r.status, r.complete, r.error], [200, true, null]);
    assert.equal(r.body.length, BIG_BODY.length);
    assert.equal(sha256(r.body), sha256(BIG_BODY));
    await assertServing(via);
  });

  it('forwards request bodies exactly, by length and chunked, and never the client credential', async () => {
    const sized = randomBytes(2 * 1024 * 1024);
    const chunked = [Buffer.from('a'), randomBytes(64 * 1024), randomBytes(300_000), Buffer.from('0\r\n\r\n'), randomBytes(7)];
    for (const [what, body, expected] of [
      ['Content-Length', sized, sized],
      ['chunked', chunked, Buffer.concat(chunked)],
    ] as const) {
      const r = await ask(via, '/case/echo', { method: 'POST', body });
      assert.equal(r.status, 200, `${what}: ${r.error ?? ''} ${r.body.toString().slice(0, 200)}`);
      const seen = JSON.parse(r.body.toString()) as { length: number; sha256: string; framing: string; head: string };
      assert.deepEqual(
        [seen.length, seen.sha256],
        [expected.length, sha256(expected)],
        `${what}: the upstream parsed the same bytes (framed as ${seen.framing})`,
      );
      assert.doesNotMatch(seen.head, /^x-api-key:/im, `${what}: no credential header upstream`);
      assert.ok(!seen.head.includes(via.key), `${what}: the key went nowhere upstream`);
    }
    await assertServing(via);
  });

  it('survives an upstream that closes each kept-alive connection 100 ms after answering', async () => {
    for (let i = 0; i < 5; i++) {
      if (i) await new Promise((r) => setTimeout(r, 300));
      const r = await ask(via, '/case/idle-close');
      assert.deepEqual([r.status, r.body.toString(), r.error], [200, 'closing soon', null], `request ${i + 1}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    await assertServing(via);
  });

  it('sends a GET again on a new connection when a reused one is found closed, but never a POST', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await ask(via, '/case/reset-when-reused');
      assert.deepEqual([r.status, r.body.toString(), r.error], [200, 'fresh connection', null], `GET ${i + 1}`);
    }
    // The GET above left its connection idle on top of the pool; the POST takes it, and the upstream may have acted on it.
    const post = await ask(via, '/case/reset-when-reused', { method: 'POST', body: Buffer.from('{"do":"once"}') });
    assertBadGateway(post, 'POST on a connection found closed');
    await assertServing(via);
  });

  it('relays or refuses a response with 3,000 header lines, and keeps serving', async () => {
    const r = await ask(via, '/case/many-headers', { maxHeaderSize: 1024 * 1024 });
    assert.ok(r.status === 502 || (r.status === 200 && r.body.toString() === 'ok' && r.complete), `${r.status} ${r.error ?? ''}`);
    await assertServing(via);
  });

  // A gateway that stopped reading the rest of the upload would leave a client connection it neither reads nor
  // closes until Node's headers timeout (about a minute), and Gateway.close() would wait for it: a child process
  // can be killed instead, so a regression fails these tests rather than hanging the file.
  describe('an upstream that answers 413 to a 5 MB upload without reading it, and closes (gateway in a child process)', () => {
    let child: ChildProcess | undefined;
    let childVia: Via;
    const uploadAgent = new Agent({ keepAlive: true, maxSockets: 1 });

    before(async () => {
      const started = await startChildGateway(upstream.url, dir);
      child = started.child;
      childVia = { url: started.url, key: started.key, agent: new Agent({ keepAlive: true }) };
    });

    after(async () => {
      uploadAgent.destroy();
      childVia?.agent.destroy();
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child!.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
    });

    it('gives the client 413 or 502 without hanging, and serves the next request', async () => {
      const r = await ask({ ...childVia, agent: uploadAgent }, '/case/too-large', { method: 'POST', body: randomBytes(5 * 1024 * 1024) });
      assert.ok([413, 502].includes(r.status), `${r.status} ${r.error ?? ''} after ${r.elapsedMs} ms`);
      await assertServing(childVia);
    });

    it('leaves that client connection fit for its next request', async () => {
      const r = await ask({ ...childVia, agent: uploadAgent }, '/ok', { limitMs: SHORT_LIMIT_MS });
      assert.deepEqual([r.status, r.body.toString(), r.error], [200, 'ok', null]);
    });
  });

  it('is still serving after all of the above', async () => {
    await assertServing(via);
  });
});
