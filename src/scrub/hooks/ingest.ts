import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { listenAt, parseListenAddress } from '../../listen-address.js';
import { UsageError } from '../../errors.js';
import { fetchWithoutRedirects } from '../../outbound-fetch.js';
import { createScrubStream, type ScrubOptions } from '../stream.js';

/** Where scrubbed batches go. `forward` resolves only once the batch is durable there. */
export interface Forwarder {
  /** Safe to print: never includes credentials from the target URL. */
  readonly description: string;
  forward(batch: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Appends each batch to a file and fsyncs before the batch counts as forwarded; batches never interleave. */
export function createFileForwarder(path: string): Forwarder {
  let handle: Promise<FileHandle> | undefined;
  let tail: Promise<unknown> = Promise.resolve();
  return {
    description: path,
    forward(batch) {
      const done = tail.then(async () => {
        handle ??= open(path, 'a', 0o640);
        const file = await handle;
        await file.appendFile(batch);
        await file.datasync();
      });
      tail = done.catch(() => {});
      return done;
    },
    async close() {
      await tail;
      if (handle) await (await handle).close();
    },
  };
}

/**
 * POSTs each batch to an HTTP sink, e.g. ClickHouse
 * `http://127.0.0.1:8123/?query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow`. Credentials in the URL
 * are sent as Basic auth. Anything but 2xx is a failure.
 */
export function createHttpForwarder(target: string, options: { timeoutMs?: number } = {}): Forwarder {
  const url = new URL(target);
  const headers: Record<string, string> = { 'content-type': 'application/x-ndjson' };
  if (url.username || url.password) {
    headers.authorization = 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64');
    url.username = '';
    url.password = '';
  }
  return {
    description: `${url.origin}${url.pathname}`,
    async forward(batch) {
      const response = await fetchWithoutRedirects(url, { method: 'POST', headers, body: new Uint8Array(batch), signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
      const text = await response.text();
      if (!response.ok) throw new Error(`sink answered ${response.status}: ${text.slice(0, 200).trim()}`);
    },
    close: () => Promise.resolve(),
  };
}

/** `http://` or `https://` targets are HTTP sinks; anything else is a file path. */
export function createForwarder(target: string): Forwarder {
  return /^https?:\/\//i.test(target) ? createHttpForwarder(target) : createFileForwarder(target);
}

export interface IngestOptions {
  forwarder: Forwarder;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Bearer token clients must send; undefined only when authentication was switched off on purpose. */
  token: string | undefined;
  /** Batches being scrubbed or forwarded at once; more get 503 and Retry-After (default 4). */
  maxInFlight?: number;
  /** Largest batch after decompression (default 16 MiB); larger ones get 413. */
  maxBatchBytes?: number;
  scrub?: Omit<ScrubOptions, 'format'>;
  /** How many forwarded batch ids are remembered to drop retried duplicates (default 100 000). */
  rememberBatchIds?: number;
}

export interface IngestServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  readonly stats: { batches: number; lines: number; duplicates: number; rejectedBusy: number; forwardFailures: number };
  close(): Promise<void>;
}

/** Headers a shipper can set to make retries safe; the first is Warden's, the second the IETF draft's. */
export const BATCH_ID_HEADERS = ['x-warden-batch-id', 'idempotency-key'] as const;
const RETRY_AFTER_SECONDS = '1';

type Outcome = { status: number; body: Record<string, unknown> };

/** A random token for the ingest point (printed once at start when WARDEN_INGEST_TOKEN is unset). */
export function generateIngestToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * An HTTP ingest point for log shippers: POST NDJSON (optionally gzip) and get 200 only once the
 * scrubbed batch is forwarded; 503 when busy and 5xx when forwarding failed, so the shipper retries;
 * a repeated batch id is acknowledged without forwarding twice.
 */
export async function startIngestServer(options: IngestOptions): Promise<IngestServer> {
  const maxInFlight = options.maxInFlight ?? 4;
  const maxBatchBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
  const remember = options.rememberBatchIds ?? 100_000;
  const expected = options.token === undefined ? undefined : digest(options.token);
  const stats = { batches: 0, lines: 0, duplicates: 0, rejectedBusy: 0, forwardFailures: 0 };
  const pending = new Map<string, Promise<Outcome>>();
  const forwarded = new Set<string>();
  let inFlight = 0;

  const handleBatch = async (req: IncomingMessage): Promise<Outcome> => {
    const scrubber = createScrubStream({ ...options.scrub, format: 'ndjson' });
    const parts: Buffer[] = [];
    let size = 0;
    const collector = new Writable({
      write(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBatchBytes) return done(new BatchTooLarge());
        parts.push(chunk);
        done();
      },
    });
    const gzip = /\bgzip\b/i.test(req.headers['content-encoding'] ?? '');
    try {
      await (gzip ? pipeline(req, createGunzip(), scrubber, collector) : pipeline(req, scrubber, collector));
    } catch (err) {
      if (err instanceof BatchTooLarge) return { status: 413, body: { error: `batch over ${maxBatchBytes} bytes; send smaller batches` } };
      return { status: 400, body: { error: gzip ? 'body is not valid gzip' : 'could not read body' } };
    }
    let batch = Buffer.concat(parts);
    if (batch.length && batch[batch.length - 1] !== 10) batch = Buffer.concat([batch, Buffer.from('\n')]);
    const lines = scrubber.stats.lines;
    if (batch.length) {
      try {
        await options.forwarder.forward(batch);
      } catch (err) {
        stats.forwardFailures++;
        return { status: 502, body: { error: `forwarding failed: ${(err as Error).message}` } };
      }
    }
    stats.batches++;
    stats.lines += lines;
    return { status: 200, body: { lines } };
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const reply = ({ status, body }: Outcome, headers: Record<string, string> = {}) => {
      if (status === 503 || status >= 500) headers['retry-after'] ??= RETRY_AFTER_SECONDS;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body) + '\n');
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return reply({ status: 200, body: { ok: true } });
    if (req.method !== 'POST') {
      req.resume();
      return reply({ status: 405, body: { error: 'POST NDJSON batches' } }, { allow: 'POST' });
    }
    if (expected && !authorized(req.headers.authorization, expected)) {
      req.resume();
      return reply({ status: 401, body: { error: 'missing or wrong bearer token' } }, { 'www-authenticate': 'Bearer realm="warden-ingest"' });
    }
    const id = batchIdOf(req);
    if (id !== undefined && forwarded.has(id)) {
      req.resume();
      stats.duplicates++;
      return reply({ status: 200, body: { duplicate: true } });
    }
    const running = id === undefined ? undefined : pending.get(id);
    if (running) {
      // The same batch is still being forwarded (the shipper gave up waiting and retried): share its answer.
      req.resume();
      stats.duplicates++;
      return reply(await running);
    }
    if (inFlight >= maxInFlight) {
      req.resume();
      stats.rejectedBusy++;
      return reply({ status: 503, body: { error: 'busy; retry later' } });
    }
    inFlight++;
    const outcome = handleBatch(req);
    if (id !== undefined) pending.set(id, outcome);
    try {
      const result = await outcome;
      if (id !== undefined && result.status === 200) {
        forwarded.add(id);
        if (forwarded.size > remember) forwarded.delete(forwarded.values().next().value!);
      }
      reply(result);
    } finally {
      inFlight--;
      if (id !== undefined) pending.delete(id);
    }
  };

  const server: Server = createServer((req, res) => {
    onRequest(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'retry-after': RETRY_AFTER_SECONDS });
      res.end();
    });
  });
  server.requestTimeout = 120_000;
  await listenAt(server, { port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    stats,
    async close() {
      // Stop accepting, let batches in flight finish and be forwarded, then release the target.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await options.forwarder.close();
    },
  };
}

class BatchTooLarge extends Error {}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Constant time whatever the length of what the client sent (both sides hashed to 32 bytes first). */
function authorized(header: string | undefined, expected: Buffer): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return timingSafeEqual(digest(m ? m[1]! : ''), expected) && m !== null;
}

function batchIdOf(req: IncomingMessage): string | undefined {
  for (const name of BATCH_ID_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string' && value.length > 0 && value.length <= 256) return value;
  }
  return undefined;
}

/** The one listen-address parser, re-exported for the ingest point's callers. */
export { parseListenAddress };

const LOOPBACK = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.test(host);
}

export interface ServeIngestOptions {
  listen: string;
  forward: string;
  /** False only when the user passed --no-auth. */
  auth: boolean;
  /** WARDEN_INGEST_TOKEN; when unset a token is generated and shown once. */
  token?: string | undefined;
  maxInFlight?: number;
  scrub?: Omit<ScrubOptions, 'format'>;
  /** Aborting stops the server after batches in flight are forwarded. */
  signal: AbortSignal;
  /** Human progress lines (stderr). */
  log: (line: string) => void;
}

/** `warden scrub --listen … --forward …`: runs the ingest point until `signal` aborts. */
export async function serveIngest(options: ServeIngestOptions): Promise<IngestServer['stats']> {
  const { host, port } = parseListenAddress(options.listen);
  if (!options.auth && !isLoopbackHost(host)) throw new UsageError('--no-auth is only allowed on a loopback address; set WARDEN_INGEST_TOKEN instead');
  let token: string | undefined;
  if (options.auth) {
    token = options.token || generateIngestToken();
    if (!options.token) options.log(`ingest token (shown once; set WARDEN_INGEST_TOKEN to choose one): ${token}`);
  }
  const forwarder = createForwarder(options.forward);
  const server = await startIngestServer({
    forwarder,
    host,
    port,
    token,
    ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.scrub ? { scrub: options.scrub } : {}),
  });
  options.log(`listening on ${server.url}${token ? '' : ' without authentication'}; forwarding to ${forwarder.description}`);
  if (!options.signal.aborted) await new Promise((resolve) => options.signal.addEventListener('abort', resolve, { once: true }));
  await server.close();
  const s = server.stats;
  options.log(`stopped: ${s.batches} batches, ${s.lines} lines forwarded; ${s.duplicates} duplicate(s), ${s.rejectedBusy} busy rejection(s), ${s.forwardFailures} forward failure(s)`);
  return s;
}
