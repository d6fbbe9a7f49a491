import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { RawHttpClient } from '../../../test/helpers/raw-http-client.js';
import { expandSample } from '../../detect/index.js';
import { startRecordingServer, startRedirector } from '../../../test/helpers/recording-http.js';
import { examplePath } from '../../../test/helpers/route-paths.js';
import {
  createFileForwarder,
  createHttpForwarder,
  INGEST_ROUTES,
  parseListenAddress,
  startIngestServer,
  type Forwarder,
  type IngestOptions,
  type IngestServer,
} from './ingest.js';

const KEY = 'sk-proj-' + expandSample('{alnum_-:40}', 41) + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 42);
const TOKEN = 'test-ingest-token';

/** Batch `b` of `n` lines; every third line carries a key the ingest point must scrub. */
function batch(b: number, n = 5): string {
  return (
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({ batch: b, line: i, msg: i % 3 === 0 ? `auth with ${KEY}` : 'ok', api_key: i === 1 ? 'plain-secret-value' : undefined }),
    ).join('\n') + '\n'
  );
}
const expectedLines = (batches: number) => Array.from({ length: batches }, (_, b) => Array.from({ length: 5 }, (_, i) => `${b}:${i}`)).flat();

interface ShipResult {
  attempts: number;
  statuses: number[];
}

/**
 * A log shipper as Vector or Fluent Bit behave: POST a batch with an id, retry on 5xx, 503 or a lost
 * answer (timeout), never give up.
 */
async function ship(
  url: string,
  body: string,
  id: string,
  options: { gzip?: boolean; timeoutMs?: number; dropFirstAnswer?: boolean; token?: string } = {},
): Promise<ShipResult> {
  const result: ShipResult = { attempts: 0, statuses: [] };
  let dropped = false;
  for (;;) {
    result.attempts++;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${options.token ?? TOKEN}`,
          'x-warden-batch-id': id,
          'content-type': 'application/x-ndjson',
          ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
        },
        body: options.gzip ? new Uint8Array(gzipSync(body)) : body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      await response.text();
      result.statuses.push(response.status);
      if (options.dropFirstAnswer && response.status === 200 && !dropped) {
        dropped = true; // the acknowledgement was "lost" on the way back: the shipper must send again
        continue;
      }
      if (response.status === 200) return result;
      assert.ok(response.status === 503 || response.status >= 500, `unexpected ${response.status}`);
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
      result.statuses.push(0);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function linesOf(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const row = JSON.parse(l) as { batch: number; line: number };
      return `${row.batch}:${row.line}`;
    });
}

/** An HTTP sink standing in for ClickHouse's HTTP interface: stores a body only when it answers 200. */
class Sink {
  server!: Server;
  stored: string[] = [];
  requests = 0;
  failEvery = 0;
  delayFirstOfBatch = new Map<number, number>();
  private delayed = new Set<number>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', async () => {
        this.requests++;
        const body = Buffer.concat(parts).toString('utf8');
        const b = (JSON.parse(body.split('\n')[0]!) as { batch: number }).batch;
        const delay = this.delayFirstOfBatch.get(b);
        if (delay && !this.delayed.has(b)) {
          this.delayed.add(b);
          await new Promise((r) => setTimeout(r, delay));
        }
        if (this.failEvery && this.requests % this.failEvery === 0) {
          res.writeHead(500).end('Code: 252. DB::Exception: Too many parts');
          return;
        }
        this.stored.push(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/?query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow`;
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-ingest-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function withServer(forwarder: Forwarder, fn: (server: IngestServer) => Promise<void>, maxInFlight = 2): Promise<void> {
  const server = await startIngestServer({ forwarder, tokens: [TOKEN], maxInFlight, maxBatchBytes: 64 * 1024 });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

describe('ingest point', () => {
  it('file target: 40 batches posted at once (some gzip, some answers lost) land once each, scrubbed', async () => {
    const file = join(dir, 'forwarded.ndjson');
    await withServer(createFileForwarder(file), async (server) => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, b) => ship(server.url, batch(b), `b-${b}`, { gzip: b % 2 === 0, dropFirstAnswer: b % 7 === 0 })),
      );
      assert.ok(server.stats.rejectedBusy > 0, 'with 8x more batches than slots, some were told to come back (503)');
      assert.equal(server.stats.duplicates, 6, 'batches whose answer was lost were acknowledged without forwarding again');
      assert.ok(results.every((r) => r.statuses.at(-1) === 200));
    });
    const text = readFileSync(file, 'utf8');
    assert.deepEqual(linesOf(text).sort(), expectedLines(40).sort(), 'every line exactly once');
    assert.ok(!text.includes(KEY) && !text.includes('plain-secret-value'));
    assert.match(text, /auth with \[REDACTED:openai-project-key\]/);
  });

  it('HTTP sink that fails and stalls: 502 makes the shipper retry; a stalled batch retried mid-flight is forwarded once', async () => {
    const sink = new Sink();
    const url = await sink.start();
    sink.failEvery = 4;
    sink.delayFirstOfBatch.set(3, 600);
    try {
      await withServer(createHttpForwarder(url), async (server) => {
        const results: ShipResult[] = [];
        for (let b = 0; b < 12; b++) results.push(await ship(server.url, batch(b), `h-${b}`, { timeoutMs: 300 }));
        assert.ok(
          results.some((r) => r.statuses.includes(502)),
          'a failed forward answers 5xx',
        );
        assert.ok(results[3]!.statuses.includes(0), 'the stalled batch timed out at the shipper and was retried');
        assert.ok(server.stats.forwardFailures > 0);
      });
      assert.deepEqual(linesOf(sink.stored.join('')).sort(), expectedLines(12).sort(), 'every line exactly once');
      assert.ok(!sink.stored.join('').includes(KEY));
    } finally {
      sink.server.close();
    }
  });

  it('HTTP sink that redirects: refused, and nothing is sent to the redirect target', async () => {
    const elsewhere = await startRecordingServer((_req, res) => res.end());
    const sink = await startRedirector(elsewhere.origin, 308);
    try {
      const forwarder = createHttpForwarder(`http://ingest:sink-password@127.0.0.1:${sink.port}/`);
      await assert.rejects(forwarder.forward(Buffer.from(batch(0))), /redirect refused: HTTP 308/);
      assert.equal(sink.requests.length, 1);
      assert.equal(elsewhere.requests.length, 0, 'the batch went nowhere else');
    } finally {
      await sink.close();
      await elsewhere.close();
    }
  });

  it('refuses every route of its table that needs the token when the request brings none', async () => {
    const file = join(dir, 'unauthenticated.ndjson');
    await withServer(createFileForwarder(file), async (server) => {
      assert.deepEqual(
        INGEST_ROUTES.filter((r) => r.auth === 'none').map((r) => `${r.method} ${r.path}`),
        ['GET /healthz'],
        'the only public route',
      );
      for (const route of INGEST_ROUTES.filter((r) => r.auth !== 'none')) {
        for (const path of [examplePath(route), '/v1/logs']) {
          const res = await fetch(server.url + path, { method: route.method, body: batch(0) });
          assert.equal(res.status, 401, `${route.method} ${path}`);
        }
      }
      assert.equal(server.stats.batches, 0);
    });
  });

  it('refuses without the bearer token, when full (503 + Retry-After), oversized (413) and with bad gzip (400)', async () => {
    const sink = new Sink();
    const url = await sink.start();
    sink.delayFirstOfBatch.set(0, 400);
    try {
      await withServer(
        createHttpForwarder(url),
        async (server) => {
          const post = (body: string, headers: Record<string, string> = {}) =>
            fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, ...headers }, body });
          assert.equal((await fetch(server.url, { method: 'POST', body: batch(0) })).status, 401);
          assert.equal((await post(batch(0), { authorization: `Bearer ${TOKEN}x` })).status, 401);
          assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
          const slow = post(batch(0));
          await new Promise((r) => setTimeout(r, 100));
          const busy = await post(batch(1));
          assert.equal(busy.status, 503);
          assert.equal(busy.headers.get('retry-after'), '1');
          assert.equal((await slow).status, 200);
          assert.equal((await post('x'.repeat(70 * 1024) + '\n')).status, 413);
          assert.equal((await post('not gzip', { 'content-encoding': 'gzip' })).status, 400);
          assert.equal(sink.stored.length, 1);
        },
        1,
      );
    } finally {
      sink.server.close();
    }
  });

  it('ClickHouse: a retrying shipper through the ingest point inserts every row once', async (t) => {
    const clickhouse = process.env.WARDEN_TEST_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123/';
    const query = (sql: string, body?: string) =>
      fetch(`${clickhouse}?query=${encodeURIComponent(sql)}`, { method: 'POST', ...(body ? { body } : {}), signal: AbortSignal.timeout(5000) }).then(
        async (r) => {
          const text = await r.text();
          if (!r.ok) throw new Error(`ClickHouse ${r.status}: ${text}`);
          return text;
        },
      );
    try {
      await query('SELECT 1');
    } catch {
      t.skip(`ClickHouse is not answering at ${clickhouse} (scripts/services.sh starts it); the local HTTP sink cases cover the protocol`);
      return;
    }
    const table = `warden_ingest_test_${process.pid}`;
    await query(`CREATE TABLE ${table} (batch UInt32, line UInt32, msg String) ENGINE = MergeTree ORDER BY (batch, line)`);
    try {
      const target = `${clickhouse}?query=${encodeURIComponent(`INSERT INTO ${table} FORMAT JSONEachRow`)}&input_format_skip_unknown_fields=1`;
      await withServer(createHttpForwarder(target), async (server) => {
        await Promise.all(Array.from({ length: 20 }, (_, b) => ship(server.url, batch(b), `ch-${b}`, { gzip: b % 2 === 1, dropFirstAnswer: b % 5 === 0 })));
      });
      assert.equal((await query(`SELECT count(), uniqExact(batch, line) FROM ${table}`)).trim(), '100\t100');
      assert.equal((await query(`SELECT count() FROM ${table} WHERE position(msg, 'sk-proj-') > 0`)).trim(), '0');
      assert.equal((await query(`SELECT count() FROM ${table} WHERE msg = 'auth with [REDACTED:openai-project-key]'`)).trim(), '40');
    } finally {
      await query(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:8787'), { host: '127.0.0.1', port: 8787 });
    assert.deepEqual(parseListenAddress('[::1]:9000'), { host: '::1', port: 9000 });
    assert.deepEqual(parseListenAddress('8787'), { host: '127.0.0.1', port: 8787 });
    assert.throws(() => parseListenAddress('host:99999'), /--listen/);
  });
});

/** A gzip body of `members` concatenated members, each 16 MiB of one byte (about 16 KiB compressed): one line. */
function gzipBomb(members: number): Buffer {
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024, 'a'), { level: 9 });
  return Buffer.concat(Array.from({ length: members }, () => member));
}

async function withLimitedServer(options: Partial<IngestOptions>, fn: (server: IngestServer, file: string) => Promise<void>): Promise<void> {
  const file = join(dir, `limits-${Math.random().toString(36).slice(2)}.ndjson`);
  const server = await startIngestServer({ forwarder: createFileForwarder(file), tokens: [TOKEN], ...options });
  try {
    await fn(server, file);
  } finally {
    RawHttpClient.destroyAll();
    await server.close();
  }
}

const forwardedText = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

describe('ingest point limits', () => {
  it('a 4 MiB gzip that inflates to 4 GiB is refused (413) within a couple of seconds, without inflating it', async () => {
    const bomb = gzipBomb(256);
    for (const [options, refusal] of [
      [{}, /inflates more than 100:1/],
      [{ maxCompressionRatio: 1e9 }, /batch over 16777216 bytes \(after decompression\)/],
    ] as const) {
      await withLimitedServer(options, async (server, file) => {
        const cpu = process.cpuUsage();
        const started = Date.now();
        const response = await fetch(server.url, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-encoding': 'gzip' },
          body: new Uint8Array(bomb),
        });
        const elapsed = Date.now() - started;
        const used = process.cpuUsage(cpu);
        assert.equal(response.status, 413);
        assert.match(((await response.json()) as { error: string }).error, refusal);
        // Inflating all of it takes this machine about 5 s of CPU; the limit stops the inflater at 16 MiB.
        assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
        assert.ok(used.user + used.system < 1_500_000, `used ${(used.user + used.system) / 1000} ms of CPU`);
        assert.equal(server.stats.refusedBodies, 1);
        assert.equal(forwardedText(file), '', 'nothing forwarded');
      });
    }
  });

  it('a chunked body (no Content-Length) is cut at the limit as it arrives: 413, connection closed', async () => {
    await withLimitedServer({ maxBatchBytes: 64 * 1024 }, async (server, file) => {
      const client = await RawHttpClient.open(Number(new URL(server.url).port));
      client.write(`POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const chunk = '{"msg":"' + 'x'.repeat(16 * 1024) + '"}\n';
      for (let i = 0; i < 6; i++) client.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
      const response = await client.response();
      assert.equal(response?.status, 413);
      assert.equal(response?.headers.get('connection'), 'close');
      assert.ok(await client.closes(2000));
      assert.equal(forwardedText(file), '');
    });
  });

  it('decodes gzip, x-gzip, deflate and br; refuses zstd, unknown and stacked codings (415)', async () => {
    await withLimitedServer({}, async (server, file) => {
      const post = (encoding: string, body: Buffer) =>
        fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-encoding': encoding }, body: new Uint8Array(body) });
      const plain = Buffer.from(batch(0));
      const encoded: Record<string, Buffer> = {
        gzip: gzipSync(plain),
        'x-gzip': gzipSync(plain),
        deflate: deflateSync(plain),
        br: brotliCompressSync(plain),
        identity: plain,
        'GZIP ': gzipSync(plain),
      };
      for (const [encoding, body] of Object.entries(encoded)) assert.equal((await post(encoding, body)).status, 200, encoding);
      for (const encoding of ['zstd', 'compress', 'gzip, gzip', 'gzip, br', 'deflate,gzip']) {
        const refused = await post(encoding, gzipSync(plain));
        assert.equal(refused.status, 415, encoding);
        assert.match(((await refused.json()) as { error: string }).error, /not supported|stacked/);
      }
      assert.equal((await post('gzip', Buffer.from('not gzip'))).status, 400);
      const text = forwardedText(file);
      assert.equal(linesOf(text).length, 6 * 5, 'six accepted batches of five lines');
      assert.ok(!text.includes(KEY));
    });
  });

  it('an over-long NDJSON line is withheld with a JSON marker: every forwarded line parses', async () => {
    await withLimitedServer({ scrub: { maxLineBytes: 1024 } }, async (server, file) => {
      const long = JSON.stringify({ msg: `${'x'.repeat(4000)} ${KEY}` });
      const body = `{"a":1}\n${long}\n{"b":2}\n${long}`;
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-encoding': 'gzip' },
        body: new Uint8Array(gzipSync(body)),
      });
      assert.equal(response.status, 200);
      const rows = forwardedText(file)
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(rows, [
        { a: 1 },
        { warden: 'line withheld', reason: 'over-long', bytes: long.length },
        { b: 2 },
        { warden: 'line withheld', reason: 'over-long', bytes: long.length },
      ]);
    });
  });

  it('one token trickling many uploads cannot starve another: it gets 503 past its share and 408 when too slow; token B gets 200 promptly', async () => {
    const A = 'token-of-shipper-a';
    const B = 'token-of-shipper-b';
    const limits = {
      tokens: [A, B],
      maxInFlight: 4,
      maxInFlightPerClient: 2,
      minBodyBytesPerSecond: 2048,
      bodyRateWindowMs: 500,
      headersTimeoutMs: 1000,
      requestTimeoutMs: 10_000,
    };
    await withLimitedServer(limits, async (server, file) => {
      const port = Number(new URL(server.url).port);
      const slow = await Promise.all(Array.from({ length: 6 }, () => RawHttpClient.open(port)));
      for (const client of slow) client.write(`POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${A}\r\nContent-Length: 100000\r\n\r\n{"msg":`);
      // 100 bytes a second: far under the 2 KiB/s floor.
      const trickle = setInterval(() => slow.forEach((c) => !c.closed && c.write('"'.repeat(10))), 100);
      try {
        await new Promise((r) => setTimeout(r, 150));
        const started = Date.now();
        const other = await fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${B}` }, body: batch(1), signal: AbortSignal.timeout(5000) });
        assert.equal(other.status, 200, 'shipper B is served while A trickles');
        assert.ok(Date.now() - started < 1000, `B waited ${Date.now() - started} ms`);
        const answers = await Promise.all(slow.map((c) => c.response()));
        const statuses = answers.map((r) => r?.status).sort();
        assert.deepEqual(statuses, [408, 408, 503, 503, 503, 503], 'A holds two slots (each ended by the rate floor) and is refused the rest');
        for (const r of answers.filter((a) => a?.status === 408)) assert.equal(r!.headers.get('connection'), 'close');
        for (const c of slow) assert.ok(await c.closes(2000), 'every trickling connection is closed');
        assert.equal(linesOf(forwardedText(file)).length, 5);
      } finally {
        clearInterval(trickle);
      }
    });
  });

  it('headers that trickle in (slowloris) get 408 and the connection closed after the headers deadline', async () => {
    await withLimitedServer({ headersTimeoutMs: 400 }, async (server) => {
      const client = await RawHttpClient.open(Number(new URL(server.url).port));
      const started = Date.now();
      client.write('POST / HTTP/1.1\r\nHost: x\r\n');
      const trickle = setInterval(() => !client.closed && client.write('X-A: b\r\n'), 100);
      try {
        const response = await client.response();
        assert.equal(response?.status, 408);
        assert.ok(await client.closes(2000));
        assert.ok(Date.now() - started < 2000, `closed after ${Date.now() - started} ms`);
      } finally {
        clearInterval(trickle);
      }
    });
  });
});

/** The forwarded bytes of each batch (a file target appends each batch whole), by the batch number on its lines. */
function forwardedBatches(file: string): Map<number, string> {
  const batches = new Map<number, string>();
  for (const line of readFileSync(file, 'utf8').split(/(?<=\n)/)) {
    const b = (JSON.parse(line) as { batch: number }).batch;
    batches.set(b, (batches.get(b) ?? '') + line);
  }
  return batches;
}

describe('ingest point on worker threads', () => {
  it('with 2 threads, many batches at once from three clients are forwarded byte for byte as with 1 thread', async () => {
    const tokens = ['client-a', 'client-b', 'client-c'];
    const forwarded: Array<Map<number, string>> = [];
    for (const threads of [1, 2]) {
      const file = join(dir, `threads-${threads}.ndjson`);
      // Small scrub batches: each request is about 25 of them, so 8 requests in flight far outnumber the
      // pool's room (a few batches per worker), and every request waits on the others' replies.
      const server = await startIngestServer({ forwarder: createFileForwarder(file), tokens, threads, maxInFlight: 8, scrub: { batchBytes: 4096 } });
      try {
        await Promise.all(Array.from({ length: 30 }, (_, b) => ship(server.url, batch(b, 800), `t-${b}`, { token: tokens[b % 3]!, timeoutMs: 30_000 })));
        assert.equal(server.stats.batches, 30);
      } finally {
        await server.close();
      }
      forwarded.push(forwardedBatches(file));
    }
    const [one, two] = forwarded as [Map<number, string>, Map<number, string>];
    assert.equal(two.size, 30);
    for (const [b, text] of one) assert.ok(two.get(b) === text, `batch ${b} differs`);
    assert.ok(![...two.values()].some((text) => text.includes(KEY) || text.includes('plain-secret-value')));
  });

  it('close() stops the workers: a process that started and closed an ingest point exits by itself', async () => {
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const script = `
      const { startIngestServer, createFileForwarder } = await import('./src/scrub/hooks/ingest.ts');
      const server = await startIngestServer({ forwarder: createFileForwarder(process.argv[1]), tokens: undefined, threads: 2 });
      const response = await fetch(server.url, { method: 'POST', body: '{"msg":"${KEY}"}\\n'.repeat(100000) });
      await server.close();
      console.log(response.status);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, join(dir, 'exits.ndjson')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const [code, signal] = (await new Promise((resolve) => child.on('close', (...args) => resolve(args)))) as [number | null, string | null];
    clearTimeout(timer);
    assert.equal(signal, null, 'the process was still running 20 s on (a worker kept it alive)');
    assert.equal(code, 0);
    assert.equal(stdout.trim(), '200');
    assert.ok(!readFileSync(join(dir, 'exits.ndjson'), 'utf8').includes(KEY));
  });

  it('a worker that fails (out of memory) fails its batch with 500 and forwards nothing; the pool starts again for the next', async () => {
    // Under the worker's heap bound a line of the default longest length scrubs; one of 16 MB dense with
    // credential-named fields does not (WORKER_LIMITS in src/workers/pool.ts).
    const size = 32 * 1024 * 1024;
    const dense = `{${Array.from({ length: 1_000_000 }, (_, i) => `"api_key${i % 10}":"v${i % 7}"`).join(',')}}\n`;
    await withLimitedServer({ threads: 2, maxBatchBytes: size, scrub: { maxLineBytes: size } }, async (server, file) => {
      const post = (body: string) => fetch(server.url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body });
      const failed = await post(dense);
      assert.equal(failed.status, 500);
      assert.equal(failed.headers.get('retry-after'), '1');
      assert.match(((await failed.json()) as { error: string }).error, /^scrubbing failed: .*memory/);
      assert.equal(forwardedText(file), '', 'nothing forwarded');
      assert.equal(server.stats.scrubFailures, 1);
      assert.equal(server.stats.workerRestarts, 1);
      // The pool starts again at most a second after it last started; meanwhile batches get 500 too.
      let next = await post(batch(7));
      for (const deadline = Date.now() + 10_000; next.status === 500 && Date.now() < deadline;) {
        await new Promise((r) => setTimeout(r, 100));
        next = await post(batch(7));
      }
      assert.equal(next.status, 200);
      assert.deepEqual(linesOf(forwardedText(file)), expectedLines(8).slice(35));
    });
  });
});
