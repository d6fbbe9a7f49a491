/**
 * Per-identity concurrency limits and the request body-rate floor, over real sockets: raw clients (so an upload
 * can stall or trickle byte by byte) through a real gateway to a node:http upstream that records what it saw,
 * which identity sent it, and when each exchange and its connection ended.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { RawHttpClient } from '../../test/helpers/raw-http-client.js';
import { waitFor } from '../../test/helpers/wait.js';
import { GatewayConfigError, parseGatewayConfig } from './config.js';
import { startTestGateway, type TestGateway } from './test-upstreams.js';

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request as the upstream saw it. */
interface Seen {
  target: string;
  keyId: string | undefined;
  /** Body bytes received so far; `complete` once the body ended as framed. */
  received: number;
  complete: boolean;
  /** The exchange is over on the upstream's side, and its connection has closed. */
  closed: boolean;
  socketClosed: boolean;
}

/**
 * `/upload` reads the body and answers with its length; `/hold-body` leaves the body unread for 3.5 s first;
 * `/early` answers before the body has arrived (and goes on reading it);
 * `/ok` answers at once; `/open/wait` answers only when the test calls `releaseWaiting`.
 */
async function startUpstream() {
  const seen: Seen[] = [];
  const waiting: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const s: Seen = {
      target: req.url ?? '',
      keyId: req.headers['x-warden-key-id'] as string | undefined,
      received: 0,
      complete: false,
      closed: false,
      socketClosed: false,
    };
    seen.push(s);
    res.on('close', () => (s.closed = true));
    req.socket.once('close', () => (s.socketClosed = true));
    const answer = () => {
      const text = JSON.stringify({ length: s.received });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    req.on('data', (c: Buffer) => (s.received += c.length));
    req.on('end', () => {
      s.complete = true;
      if (s.target === '/open/wait') waiting.push(res);
      else if (s.target !== '/early') answer();
    });
    if (s.target === '/early') answer();
    if (s.target === '/hold-body') {
      req.pause();
      setTimeout(() => req.resume(), 3500);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    waiting,
    releaseWaiting: () => {
      for (const res of waiting.splice(0)) res.writeHead(200, { 'content-length': '2' }).end('ok');
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const PROFILE = `kind: limits-test
endpoints:
  - { name: upload, path: /upload, methods: [POST], class: write }
  - { name: hold-body, path: /hold-body, methods: [POST], class: write }
  - { name: early, path: /early, methods: [POST], class: write }
  - { name: ok, path: /ok, methods: [GET], class: read }
  - { name: open-wait, path: /open/wait, methods: [GET], class: health }
`;

const head = (...lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

describe('gateway limits: one identity cannot fill an upstream pool, and a trickling body is cut off', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-limits-'));
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let gw: TestGateway;
  let port = 0;
  const keys = { a: '', aId: '', b: '', metrics: '' };

  const open = (from?: string) => RawHttpClient.open(port, '127.0.0.1', from);
  const request = (method: string, target: string, key: string | null, extra: string[] = []) =>
    head(`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...(key ? [`X-API-Key: ${key}`] : []), ...extra);
  const scrape = async () => {
    const res = await fetch(gw.gateway.metricsUrl!, { headers: { 'x-api-key': keys.metrics }, signal: AbortSignal.timeout(5000) });
    return res.text();
  };

  before(async () => {
    upstream = await startUpstream();
    writeFileSync(join(dir, 'limits.yaml'), PROFILE);
    const route = (name: string, maxSockets: number, extra = '') => `
  - name: ${name}
    match: { pathPrefix: /${name} }
    stripPrefix: true
    upstream: { url: "${upstream.url}", profile: ./limits.yaml, timeoutMs: 5000, maxSockets: ${maxSockets} }
    identityHeaders: { X-Warden-Key-Id: keyId }
    public: [health]
    allow:
      - { classes: [read, write], scopes: ["t:use"] }${extra}`;
    gw = await startTestGateway(
      `
listen: { port: 0 }
metrics: { port: 0 }
routes:${route('pool', 8)}${route('trickle', 4, '\n    limits: { bodyRate: { minBytesPerSecond: 1024, windowMs: 1000 } }')}
`,
      dir,
    );
    port = Number(new URL(gw.gateway.url).port);
    const a = await gw.keys.create({ owner: 'tenant-a', name: 'a', scopes: ['t:use'] });
    keys.a = a.key;
    keys.aId = a.info.id;
    keys.b = (await gw.keys.create({ owner: 'tenant-b', name: 'b', scopes: ['t:use'] })).key;
    keys.metrics = (await gw.keys.create({ owner: 'ops', name: 'metrics', scopes: ['gateway:metrics'] })).key;
  });

  afterEach(() => RawHttpClient.destroyAll());

  after(async () => {
    RawHttpClient.destroyAll();
    await gw?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps serving identity B promptly while identity A holds more slow uploads than the pool has sockets', async () => {
    const mark = upstream.seen.length;
    // maxSockets 8, so by default one identity may have max(1, floor(8 / 4)) = 2 exchanges in flight.
    const slow = await Promise.all(Array.from({ length: 12 }, () => open()));
    for (const c of slow) c.write(request('POST', '/pool/upload', keys.a, [`Content-Length: ${MB}`]) + 'x'.repeat(100));
    const fromA = () => upstream.seen.slice(mark).filter((s) => s.keyId === keys.aId);
    await waitFor('A reaches the upstream', () => fromA().length >= 2);
    await sleep(200);

    const started = Date.now();
    const b = await open();
    b.write(request('GET', '/pool/ok', keys.b));
    const answer = await b.response();
    const took = Date.now() - started;
    assert.equal(answer?.status, 200, 'B is answered');
    assert.ok(took < 2000, `B waited ${took} ms`);

    assert.equal(fromA().length, 2, 'no more of A than its share reached the upstream');
    const refused = () => slow.filter((c) => c.pending.startsWith('HTTP/1.1 429 '));
    await waitFor('ten of A are refused', () => refused().length === 10);
    const r = await refused()[0]!.response();
    assert.equal(r?.headers.get('retry-after'), '1');
    assert.deepEqual(JSON.parse(r!.body.toString()), {
      error: 'rate_limited',
      reason: 'concurrency',
      message: 'too many requests in flight for this identity; retry when one has finished',
      route: 'pool',
    });
    assert.match(await scrape(), /warden_gateway_refusals_total\{route="pool",reason="concurrency"\} 10\n/);

    // A's stalled uploads go away: their places are free again, and A is served.
    for (const c of slow) c.destroy();
    await waitFor('the upstream lets go of A', () => fromA().every((s) => s.closed));
    const again = await open();
    again.write(request('POST', '/pool/upload', keys.a, ['Content-Length: 5']) + 'hello');
    const ok = await again.response();
    assert.deepEqual([ok?.status, ok && JSON.parse(ok.body.toString())], [200, { length: 5 }]);
  });

  it('counts a public endpoint per client address', async () => {
    const mark = upstream.seen.length;
    const first = await Promise.all([open(), open(), open()]);
    for (const c of first) c.write(request('GET', '/pool/open/wait', null));
    await waitFor('two from 127.0.0.1 reach the upstream', () => upstream.waiting.length === 2);
    await first[2]!.waitFor('HTTP/1.1 429 ');
    const other = await open('127.0.0.2');
    other.write(request('GET', '/pool/open/wait', null));
    await waitFor('the one from 127.0.0.2 reaches the upstream too', () => upstream.waiting.length === 3);
    upstream.releaseWaiting();
    for (const c of [first[0]!, first[1]!, other]) assert.equal((await c.response())?.status, 200);
    assert.equal(upstream.seen.slice(mark).length, 3);
  });

  it('gives back the places of requests whose clients left while they waited for a connection', async () => {
    // Four client addresses with two waiting requests each hold all 8 connections of the pool.
    const holders = await Promise.all(['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'].flatMap((from) => [open(from), open(from)]));
    for (const c of holders) c.write(request('GET', '/pool/open/wait', null));
    await waitFor('the pool is full', () => upstream.waiting.length === 8);
    // A's two places go to uploads whose bodies have arrived whole, waiting for a connection; then A leaves.
    for (let i = 0; i < 2; i++) {
      const c = await open();
      c.write(request('POST', '/pool/upload', keys.a, ['Content-Length: 5']) + 'hello');
      assert.ok(await c.quiet(200), 'waiting for a connection');
      c.destroy();
    }
    await sleep(100);
    upstream.releaseWaiting();
    for (const c of holders) assert.equal((await c.response())?.status, 200);
    const again = await open();
    again.write(request('POST', '/pool/upload', keys.a, ['Content-Length: 5']) + 'hello');
    assert.equal((await again.response())?.status, 200, 'A has its places back');
  });

  it('cuts off a body that trickles below the floor with 408, and closes its upstream connection', async () => {
    const mark = upstream.seen.length;
    const c = await open();
    c.write(request('POST', '/trickle/upload', keys.b, ['Content-Length: 100000']));
    const started = Date.now();
    // 100 bytes a second, against a floor of 1 KiB a second over 1 s windows.
    const trickle = setInterval(() => c.write('x'.repeat(10)), 100);
    try {
      await c.waitFor('HTTP/1.1 408 ');
    } finally {
      clearInterval(trickle);
    }
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 3000, `cut off after ${took} ms`);
    const r = await c.response();
    assert.deepEqual(JSON.parse(r!.body.toString()), {
      error: 'request_timeout',
      reason: 'body_too_slow',
      message: 'the request body arrived too slowly',
      route: 'trickle',
    });
    assert.equal(r?.headers.get('connection'), 'close');
    assert.ok(await c.closes(), 'the client connection is closed');
    const forwarded = upstream.seen.slice(mark);
    assert.equal(forwarded.length, 1, 'the upload had reached the upstream');
    await waitFor('the upstream exchange ends and its connection closes', () => forwarded[0]!.closed && forwarded[0]!.socketClosed);
    assert.equal(forwarded[0]!.complete, false, 'the cut body never completed upstream');
    assert.match(await scrape(), /warden_gateway_refusals_total\{route="trickle",reason="body_too_slow"\} 1\n/);

    const next = await open();
    next.write(request('POST', '/trickle/upload', keys.b, ['Content-Length: 5']) + 'hello');
    assert.equal((await next.response())?.status, 200, 'the route serves the next upload');
  });

  it('holds the place of a body still trickling in after the answer, then cuts that client off', async () => {
    const mark = upstream.seen.length;
    const c = await open();
    c.write(request('POST', '/trickle/early', keys.b, ['Content-Length: 100000']));
    const trickle = setInterval(() => c.write('x'.repeat(10)), 100);
    try {
      assert.equal((await c.response())?.status, 200, 'answered before the body arrived');
      // maxSockets 4: one place per identity, still taken by the body that feeds the upstream connection.
      const meanwhile = await open();
      meanwhile.write(request('GET', '/trickle/ok', keys.b));
      assert.equal((await meanwhile.response())?.status, 429);
      assert.ok(await c.closes(), 'the trickling client is cut off');
    } finally {
      clearInterval(trickle);
    }
    const early = upstream.seen.slice(mark).find((x) => x.target === '/early')!;
    await waitFor('its upstream connection closes', () => early.socketClosed);
    assert.equal(early.complete, false);
    const next = await open();
    next.write(request('GET', '/trickle/ok', keys.b));
    assert.equal((await next.response())?.status, 200, 'the place is free again');
  });

  it('does not count against a client the time its upstream was not reading the body, nor cut a slow but steady one', async () => {
    const mark = upstream.seen.length;
    const big = await open();
    // Far more than socket buffers hold: the gateway stops reading the client while the upstream reads nothing (3.5 s).
    big.write(request('POST', '/trickle/hold-body', keys.b, [`Content-Length: ${16 * MB}`]));
    big.write(Buffer.alloc(16 * MB, 'y'));
    const steady = await open();
    steady.write(request('POST', '/trickle/upload', keys.a, ['Content-Length: 6144']));
    for (let i = 0; i < 6; i++) {
      steady.write('z'.repeat(1024));
      await sleep(i < 5 ? 400 : 0);
    }
    const s = await steady.response();
    assert.deepEqual([s?.status, s && JSON.parse(s.body.toString())], [200, { length: 6144 }], 'a 2.5 KiB/s body passes');
    await waitFor('the held upload completes upstream', () => upstream.seen.slice(mark).some((x) => x.target === '/hold-body' && x.complete), 10_000);
    const b = await big.response();
    assert.deepEqual([b?.status, b && JSON.parse(b.body.toString())], [200, { length: 16 * MB }]);
  });
});

describe('gateway limits config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-limits-config-'));
  writeFileSync(join(dir, 'p.yaml'), PROFILE);
  after(() => rmSync(dir, { recursive: true, force: true }));
  const parse = (top: string, routeLimits: string, maxSockets = 256) =>
    parseGatewayConfig(
      `${top}
routes:
  - name: r
    upstream: { url: "http://127.0.0.1:1", profile: ./p.yaml, maxSockets: ${maxSockets} }
    allow: [{ classes: [read], scopes: [] }]
${routeLimits}`,
      'inline',
      dir,
    ).routes[0]!.limits;

  it('defaults to a quarter of the pool per identity and 1 KiB/s over 10 s', () => {
    assert.deepEqual(parse('', ''), { inFlightPerIdentity: 64, bodyRate: { minBytesPerSecond: 1024, windowMs: 10_000 } });
    assert.equal(parse('', '', 3).inFlightPerIdentity, 1);
  });

  it("takes the top level for every route and a route's own limits over it, field by field", () => {
    const top = 'limits: { inFlightPerIdentity: 10, bodyRate: { minBytesPerSecond: 0, windowMs: 5000 } }';
    assert.deepEqual(parse(top, ''), { inFlightPerIdentity: 10, bodyRate: { minBytesPerSecond: 0, windowMs: 5000 } });
    assert.deepEqual(parse(top, '    limits: { inFlightPerIdentity: 3, bodyRate: { minBytesPerSecond: 512 } }'), {
      inFlightPerIdentity: 3,
      bodyRate: { minBytesPerSecond: 512, windowMs: 5000 },
    });
  });

  it('refuses an unknown field or a limit below 1, naming the line', () => {
    assert.throws(
      () => parse('limits: { perIdentity: 4 }', ''),
      (err: Error) => err instanceof GatewayConfigError && /inline:1/.test(err.message),
    );
    assert.throws(() => parse('', '    limits: { inFlightPerIdentity: 0 }'), GatewayConfigError);
  });
});
