/**
 * The gateway's client-facing server on its own, with handlers written here: what the gateway-level tests
 * (client-hostile.test.ts) cannot reach from outside. Time limits made small, backpressure on request
 * bodies and on pipelined requests, what an upgrade handler is given, Expect, HTTP/1.0 framing chosen by
 * the handler, header values refused by writeHead, close() with connections in every state, TLS, and
 * clients that go away. Clients are raw sockets on 127.0.0.1; every read has a deadline.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TlsOptions } from 'node:tls';
import { RawHttpClient } from '../../test/helpers/raw-http-client.js';
import { makeSelfSignedCert } from '../../test/helpers/self-signed-cert.js';
import { waitUntil } from '../../test/helpers/wait.js';
import { ClientServer, type ClientHandlers, type ClientLimits, type ClientRequest, type ClientResponse } from './server.js';

/** A bound on every wait, so a hang fails its own test quickly. */
const LIMIT_MS = 5000;
const MB = 1024 * 1024;
const LIMITS: Partial<ClientLimits> = { headersTimeoutMs: 300, requestTimeoutMs: 800, keepAliveMs: 400, checkIntervalMs: 50 };

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** `promise`, or a failure naming `what` once `ms` have passed. */
async function within<T>(promise: Promise<T>, what: string, ms = LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Answers a request with a length-framed body. */
function answer(response: ClientResponse, status: number, body: string, fields: string[] = []): void {
  response.writeHead(status, status === 200 ? 'OK' : 'Status', [...fields, 'content-length', String(Buffer.byteLength(body))], true);
  response.end(body);
}

/** Calls that reached a handler the test did not give: none are expected. */
let stray: string[] = [];
const servers = new Set<ClientServer>();

/** A listening server with the handlers given; the others record a stray call. */
async function start(handlers: Partial<ClientHandlers>, limits: Partial<ClientLimits> = {}, tls?: TlsOptions): Promise<{ server: ClientServer; port: number }> {
  const all: ClientHandlers = {
    request: (request, response) => {
      stray.push(`request ${request.method} ${request.url}`);
      answer(response, 500, 'stray');
    },
    upgrade: (request, socket) => {
      stray.push(`upgrade ${request.method} ${request.url}`);
      socket.destroy();
    },
    ...handlers,
  };
  const server = new ClientServer(all, tls, limits);
  servers.add(server);
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.server.address() as AddressInfo).port };
}

/** A request head from its lines. */
const head = (...lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const get = (target: string, ...extra: string[]) => head(`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...extra);

/** Whole-process memory that a buffered body would show in. */
const memory = () => {
  const m = process.memoryUsage();
  return m.rss + m.arrayBuffers;
};

describe('ClientServer', { timeout: 30_000 }, () => {
  beforeEach(() => {
    stray = [];
  });

  afterEach(async () => {
    RawHttpClient.destroyAll();
    for (const s of servers) await within(s.close(), 'server close');
    servers.clear();
    assert.deepEqual(stray, [], 'no request reached a handler the test did not expect it at');
  });

  describe('time limits', () => {
    it('answers 408 and closes a connection whose head is not complete within headersTimeoutMs, stalled or trickling', async () => {
      const { port } = await start({}, LIMITS);
      for (const trickle of [false, true]) {
        const c = await RawHttpClient.open(port);
        const startedAt = Date.now();
        c.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half');
        // Bytes that keep coming do not extend the limit: it counts from the head's first byte.
        const trickler = trickle ? setInterval(() => !c.closed && c.write('h'), 50) : undefined;
        try {
          const r = await c.response();
          const elapsed = Date.now() - startedAt;
          assert.equal(r?.status, 408, `trickle=${trickle}`);
          assert.ok(await c.closes(), 'closed after the 408');
          assert.ok(elapsed >= 250 && elapsed < 1500, `408 after ${elapsed} ms, trickle=${trickle}`);
        } finally {
          clearInterval(trickler);
        }
      }
    });

    it('closes a connection whose body does not arrive within requestTimeoutMs; the body sees close without end', async () => {
      const seen = { bytes: 0, ended: false, aborts: 0 };
      const bodyClosed = deferred<void>();
      const { port } = await start(
        {
          request: (request, response) => {
            response.onAbort = () => seen.aborts++;
            request.body?.on('data', (d: Buffer) => (seen.bytes += d.length));
            request.body?.on('end', () => (seen.ended = true));
            request.body?.on('close', () => bodyClosed.resolve());
          },
        },
        LIMITS,
      );
      const c = await RawHttpClient.open(port);
      const startedAt = Date.now();
      c.write(head('POST /short HTTP/1.1', 'Host: 127.0.0.1', 'Content-Length: 100') + 'x'.repeat(10));
      assert.ok(await c.closes(), 'the connection is closed');
      const elapsed = Date.now() - startedAt;
      assert.ok(elapsed >= 750 && elapsed < 2500, `closed after ${elapsed} ms`);
      // The handler owes the answer, so the server has none of its own to give; a 408 would do as well.
      assert.ok(c.pending === '' || c.pending.startsWith('HTTP/1.1 408 '), `received ${JSON.stringify(c.pending)}`);
      await within(bodyClosed.promise, "the body's close");
      assert.deepEqual(seen, { bytes: 10, ended: false, aborts: 1 });
    });

    it('closes an idle kept-alive connection after keepAliveMs, and not one that keeps being used', async () => {
      const { port } = await start({ request: (request, response) => answer(response, 200, request.url) }, LIMITS);
      const idle = await RawHttpClient.open(port);
      idle.write(get('/once'));
      assert.equal((await idle.response())?.body.toString(), '/once');
      const answeredAt = Date.now();
      assert.ok(await idle.closes(), 'the idle connection is closed');
      const idleFor = idle.closedAt - answeredAt;
      assert.ok(idleFor >= 300 && idleFor < 1500, `closed after ${idleFor} ms idle`);

      const busy = await RawHttpClient.open(port);
      const startedAt = Date.now();
      for (let i = 0; Date.now() - startedAt < 1300; i++) {
        busy.write(get(`/busy/${i}`));
        assert.equal((await busy.response())?.body.toString(), `/busy/${i}`);
        await sleep(150);
      }
      assert.equal(busy.closed, false, 'a connection used every 150 ms outlives three keep-alive limits');
    });
  });

  it('stops reading a request body its handler does not read, and delivers it whole once the handler reads', async () => {
    const arrived = deferred<{ request: ClientRequest; response: ClientResponse }>();
    const { port } = await start({ request: (request, response) => arrived.resolve({ request, response }) });
    const c = await RawHttpClient.open(port);
    const total = 20 * MB;
    c.write(head('POST /upload HTTP/1.1', 'Host: 127.0.0.1', `Content-Length: ${total}`));
    const { request, response } = await within(arrived.promise, 'the request');
    // A few distinct pieces in turn: the order is checked, and the client allocates nothing as it sends.
    const pieces = Array.from({ length: 7 }, () => randomBytes(64 * 1024));
    const expected = createHash('sha256');
    const sent = { bytes: 0 };
    const before = memory();
    const upload = (async () => {
      for (let i = 0; sent.bytes < total && !c.socket.destroyed; i++) {
        const piece = pieces[i % pieces.length]!;
        expected.update(piece);
        sent.bytes += piece.length;
        if (!c.socket.write(piece)) await new Promise((resolve) => c.socket.once('drain', resolve).once('close', resolve));
      }
    })();
    // The client's writes stop draining once the kernel's buffers are full.
    for (let last = -1, deadline = Date.now() + LIMIT_MS; sent.bytes !== last && Date.now() < deadline;) {
      last = sent.bytes;
      await sleep(300);
    }
    const grown = (memory() - before) / MB;
    assert.ok(sent.bytes < total, `all ${total} bytes were taken while the handler read none`);
    assert.ok(grown < 6, `memory grew by ${grown.toFixed(1)} MB while ${(sent.bytes / MB).toFixed(1)} MB were sent and not read`);

    const body = request.body;
    assert.ok(body, 'the request has a body');
    const got = createHash('sha256');
    let received = 0;
    body.on('data', (d: Buffer) => {
      got.update(d);
      received += d.length;
    });
    body.on('end', () => answer(response, 200, `${received} ${got.digest('hex')}`));
    await within(upload, 'the rest of the upload');
    const r = await c.response();
    assert.equal(r?.status, 200);
    assert.equal(r.body.toString(), `${total} ${expected.digest('hex')}`);
  });

  it('hands 200 pipelined requests to the handler one at a time and answers them in order', async () => {
    const urls: string[] = [];
    let previous: ClientResponse | null = null;
    let overlaps = 0;
    const { port } = await start({
      request: (request, response) => {
        if (previous && !previous.finished) overlaps++;
        previous = response;
        urls.push(request.url);
        setImmediate(() => {
          // Both framings, alternately: each must end where the next response begins.
          if (urls.length % 2) answer(response, 200, request.url);
          else {
            response.writeHead(200, 'OK', [], false);
            response.write(request.url.slice(0, 3));
            response.end(request.url.slice(3));
          }
        });
      },
    });
    const c = await RawHttpClient.open(port);
    const targets = Array.from({ length: 200 }, (_, i) => `/pipelined/${i}`);
    c.write(targets.map((t) => get(t)).join(''));
    for (const [i, target] of targets.entries()) {
      const r = await c.response();
      assert.deepEqual([r?.status, r?.framing, r?.body.toString()], [200, i % 2 ? 'chunked' : 'length', target]);
    }
    assert.deepEqual(urls, targets);
    assert.equal(overlaps, 0, 'requests handed over before the previous response ended');
    assert.equal(c.closed, false);
  });

  describe('upgrades', () => {
    it('gives the upgrade handler the request, the socket and exactly the bytes after the head, and parses nothing more', async () => {
      // Bytes after the head that would be a request if they were parsed, and some that are not HTTP at all.
      const extra = Buffer.concat([Buffer.from(get('/inside-upgrade-head'), 'latin1'), Buffer.from([0x81, 0x85, 0x00, 0xff, 0x0d, 0x0a])]);
      const seen = deferred<{ url: string; upgrade: string | undefined; head: Buffer }>();
      const { port } = await start({
        upgrade: (request, socket, headBytes) => {
          seen.resolve({ url: request.url, upgrade: request.headers.upgrade, head: Buffer.from(headBytes) });
          socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
          socket.write(headBytes);
          socket.on('data', (d: Buffer) => socket.write(d));
        },
      });
      const c = await RawHttpClient.open(port);
      c.write(Buffer.concat([Buffer.from(get('/ws', 'Connection: Upgrade', 'Upgrade: websocket'), 'latin1'), extra]));
      const got = await within(seen.promise, 'the upgrade handler');
      assert.deepEqual({ url: got.url, upgrade: got.upgrade }, { url: '/ws', upgrade: 'websocket' });
      assert.deepEqual(got.head, extra, 'the head is exactly the bytes after the request head');
      assert.equal((await c.response())?.status, 101);
      assert.deepEqual(await c.take(extra.length), extra, 'echoed by the upgrade handler');
      const later = get('/after-upgrade');
      c.write(later);
      assert.equal((await c.take(later.length)).toString('latin1'), later, 'later bytes reach the upgrade handler as data');
    });

    it('closes a CONNECT without handing it to either handler', async () => {
      const { port } = await start({});
      const c = await RawHttpClient.open(port);
      c.write(head('CONNECT 127.0.0.1:9 HTTP/1.1', 'Host: 127.0.0.1:9') + 'tunnel bytes');
      assert.ok(await c.closes(), 'the connection is closed');
      assert.equal(c.pending, '', 'nothing is answered');
    });
  });

  it('answers 417 to an Expect it does not know, and 100 Continue only to a 100-continue request with a body', async () => {
    const handled: string[] = [];
    const { port } = await start({
      request: (request, response) => {
        handled.push(request.url);
        if (!request.body) return answer(response, 200, 'no body');
        const parts: Buffer[] = [];
        request.body.on('data', (d: Buffer) => parts.push(d));
        request.body.on('end', () => answer(response, 200, Buffer.concat(parts).toString()));
      },
    });
    const c = await RawHttpClient.open(port);
    c.write(head('POST /strange HTTP/1.1', 'Host: 127.0.0.1', 'Expect: something-else', 'Content-Length: 5') + 'hello');
    assert.equal((await c.response())?.status, 417);
    assert.ok(await c.closes(), 'closed after the 417');
    assert.deepEqual(handled, [], 'the handler never sees it');

    const continued = await RawHttpClient.open(port);
    continued.write(head('POST /continue HTTP/1.1', 'Host: 127.0.0.1', 'Expect: 100-continue', 'Content-Length: 5'));
    await continued.waitFor('\r\n\r\n');
    assert.equal(continued.pending, 'HTTP/1.1 100 Continue\r\n\r\n');
    assert.equal((await continued.response())?.status, 100);
    continued.write('hello');
    const r = await continued.response();
    assert.deepEqual([r?.status, r?.body.toString()], [200, 'hello']);

    const bodiless = await RawHttpClient.open(port);
    bodiless.write(get('/continue-without-body', 'Expect: 100-continue'));
    const first = await bodiless.response();
    assert.deepEqual([first?.status, first?.body.toString()], [200, 'no body'], 'the final answer comes first: no 100 for a request without a body');
    assert.deepEqual(handled, ['/continue', '/continue-without-body']);
  });

  describe('HTTP/1.0 clients', () => {
    const handlers: Partial<ClientHandlers> = {
      request: (request, response) => {
        const hasLength = !request.url.startsWith('/close-delimited');
        const body = `${request.url} answered`;
        response.writeHead(200, 'OK', hasLength ? ['content-length', String(body.length)] : [], hasLength);
        response.write(body.slice(0, 5));
        response.end(body.slice(5));
      },
    };

    it('gets a response without a length close-delimited, keep-alive asked for or not', async () => {
      const { port } = await start(handlers);
      for (const extra of [[], ['Connection: keep-alive']]) {
        const c = await RawHttpClient.open(port);
        c.write(head('GET /close-delimited HTTP/1.0', ...extra));
        const r = await c.response();
        assert.equal(r?.status, 200);
        assert.equal(r.headers.get('transfer-encoding'), undefined, 'no chunked coding for HTTP/1.0');
        assert.equal(r.headers.get('connection'), 'close');
        assert.deepEqual([r.framing, r.body.toString()], ['close', '/close-delimited answered']);
        assert.ok(c.closed, 'closed at the end of the body');
      }
    });

    it('keeps the connection open for one that asks for keep-alive, when the response has a length', async () => {
      const { port } = await start(handlers);
      const c = await RawHttpClient.open(port);
      for (const target of ['/first', '/second']) {
        c.write(head(`GET ${target} HTTP/1.0`, 'Connection: keep-alive'));
        const r = await c.response();
        assert.deepEqual([r?.status, r?.headers.get('connection'), r?.body.toString()], [200, 'keep-alive', `${target} answered`]);
        assert.ok(await c.quiet(50), 'still open');
      }
      c.write(head('GET /last HTTP/1.0'));
      const r = await c.response();
      assert.deepEqual([r?.headers.get('connection'), r?.body.toString()], ['close', '/last answered']);
      assert.ok(await c.closes(), 'closed after a request without keep-alive');
    });
  });

  it('refuses in writeHead a reason phrase or header value holding CR, LF or NUL, before writing anything, and takes a valid head after', async () => {
    const bad: Array<[string, string[]]> = [
      ['OK', ['x-note', 'a\r\ninjected: 1']],
      ['OK', ['x-note', 'a\ninjected: 1']],
      ['OK', ['x-note', 'a\0b']],
      ['OK\r\ninjected: 1', []],
    ];
    const arrived = deferred<{ response: ClientResponse; errors: string[]; headersSent: boolean }>();
    const { port } = await start({
      request: (request, response) => {
        if (request.url === '/after') return answer(response, 200, 'after');
        const errors: string[] = [];
        for (const [text, fields] of bad) {
          try {
            response.writeHead(200, text, fields, true);
          } catch (e) {
            errors.push((e as Error).message);
          }
        }
        arrived.resolve({ response, errors, headersSent: response.headersSent });
      },
    });
    const c = await RawHttpClient.open(port);
    c.write(get('/bad-head'));
    const { response, errors, headersSent } = await within(arrived.promise, 'the request');
    assert.equal(errors.length, bad.length, 'every bad head throws');
    assert.equal(headersSent, false);
    assert.ok(await c.quiet(150), 'nothing written for the refused heads');
    answer(response, 500, 'sorry');
    const r = await c.response();
    assert.ok(r, 'answered');
    assert.deepEqual([r.status, r.body.toString()], [500, 'sorry']);
    assert.ok(!/injected|x-note/i.test(r.head), `no trace of the refused heads in ${JSON.stringify(r.head)}`);
    c.write(get('/after'));
    assert.equal((await c.response())?.body.toString(), 'after', 'the connection is still usable');
  });

  it('close(): closes idle and half-sent connections at once, finishes answers in progress with connection: close, then resolves', async () => {
    const held = deferred<ClientResponse>();
    const streaming = deferred<ClientResponse>();
    const { server, port } = await start({
      request: (request, response) => {
        if (request.url === '/held') held.resolve(response);
        else if (request.url === '/streaming') {
          response.writeHead(200, 'OK', [], false);
          response.write('first,');
          streaming.resolve(response);
        } else answer(response, 200, request.url);
      },
    });
    const idle = await RawHttpClient.open(port);
    idle.write(get('/idle'));
    assert.equal((await idle.response())?.status, 200);
    const waiting = await RawHttpClient.open(port);
    waiting.write(get('/held'));
    const heldResponse = await within(held.promise, 'the held request');
    const midBody = await RawHttpClient.open(port);
    midBody.write(get('/streaming'));
    const streamingResponse = await within(streaming.promise, 'the streaming request');
    await midBody.waitFor('first,');
    const half = await RawHttpClient.open(port);
    half.write('GET /half HTTP/1.1\r\nHo');
    await waitUntil(() => server.connections.size === 4, 1000);
    await sleep(50);

    const closeCalledAt = Date.now();
    let resolved = false;
    const closing = server.close().then(() => (resolved = true));
    assert.ok((await idle.closes(1000)) && (await half.closes(1000)), 'idle and half-sent connections closed');
    assert.ok(Math.max(idle.closedAt, half.closedAt) - closeCalledAt < 300, 'closed at once');
    assert.equal(idle.pending, '', 'nothing sent to the idle connection');
    assert.equal(half.pending, '', 'nothing sent to the half-sent request');
    await assert.rejects(RawHttpClient.open(port), 'no new connections');
    assert.ok(await waiting.quiet(100), 'a connection owed an answer stays open');
    assert.equal(midBody.closed, false);
    assert.equal(resolved, false, 'close() waits for the answers owed');

    answer(heldResponse, 200, 'held answer');
    const r = await waiting.response();
    assert.deepEqual([r?.status, r?.headers.get('connection'), r?.body.toString()], [200, 'close', 'held answer']);
    assert.ok(await waiting.closes(), 'closed after its answer');
    assert.equal(resolved, false, 'close() still waits for the streaming answer');

    streamingResponse.end('second');
    const s = await midBody.response();
    assert.deepEqual([s?.status, s?.framing, s?.body.toString()], [200, 'chunked', 'first,second']);
    assert.ok(await midBody.closes(), 'closed after the end of its body');
    await within(closing, 'close()');
  });

  it('serves over TLS: two kept-alive requests on one connection, and a 2 MB body intact', async () => {
    const cert = makeSelfSignedCert('/CN=warden-client-server', 'IP:127.0.0.1');
    const { port } = await start(
      {
        request: (request, response) => {
          if (!request.body) return answer(response, 200, request.url);
          const hash = createHash('sha256');
          let length = 0;
          request.body.on('data', (d: Buffer) => {
            hash.update(d);
            length += d.length;
          });
          request.body.on('end', () => answer(response, 200, `${length} ${hash.digest('hex')}`));
        },
      },
      {},
      { key: cert.key, cert: cert.cert },
    );
    const c = await RawHttpClient.openTls(port, cert.cert);
    for (const target of ['/tls/1', '/tls/2']) {
      c.write(get(target));
      const r = await c.response();
      assert.deepEqual([r?.status, r?.body.toString()], [200, target]);
    }
    const body = randomBytes(2 * MB);
    c.write(head('POST /tls/upload HTTP/1.1', 'Host: 127.0.0.1', `Content-Length: ${body.length}`));
    c.write(body);
    const r = await c.response();
    assert.deepEqual([r?.status, r?.body.toString()], [200, `${body.length} ${sha256(body)}`]);
    assert.equal(c.closed, false);
  });

  it('calls onAbort once when the client goes away with its request unanswered; end() after that does not throw', async () => {
    const arrived = deferred<ClientResponse>();
    let aborts = 0;
    const { port } = await start({
      request: (_request, response) => {
        response.onAbort = () => aborts++;
        arrived.resolve(response);
      },
    });
    const c = await RawHttpClient.open(port);
    c.write(get('/abandoned'));
    const response = await within(arrived.promise, 'the request');
    c.destroy();
    assert.ok(await waitUntil(() => aborts > 0, LIMIT_MS), 'onAbort called');
    assert.doesNotThrow(() => {
      response.writeHead(200, 'OK', ['content-length', '2'], true);
      response.write('o');
      response.end('k');
    });
    await sleep(100);
    assert.deepEqual({ aborts, finished: response.finished }, { aborts: 1, finished: true });
  });

  it('calls onAbort when the client goes away with pipelined requests queued behind the unanswered one, and hands none of those over', async () => {
    const arrived = deferred<ClientResponse>();
    let aborts = 0;
    let handed = 0;
    const { port } = await start({
      request: (_request, response) => {
        handed++;
        response.onAbort = () => aborts++;
        arrived.resolve(response);
      },
    });
    const c = await RawHttpClient.open(port);
    c.write(get('/abandoned') + get('/queued/1') + get('/queued/2'));
    const response = await within(arrived.promise, 'the request');
    c.destroy();
    const noticed = await waitUntil(() => aborts > 0, 1000);
    answer(response, 200, 'late');
    await sleep(100);
    assert.ok(noticed, 'onAbort called within 1 s of the client closing');
    assert.deepEqual({ aborts, handed }, { aborts: 1, handed: 1 });
  });
});
