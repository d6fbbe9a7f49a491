import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { hostPort, isLoopbackHost } from '../../host-port.js';
import { listenAt, parseListenAddress } from '../../listen-address.js';
import { UsageError, WardenError } from '../../errors.js';
import { RouteTable, type Route } from '../../http-routes.js';
import { fetchWithoutRedirects } from '../../outbound-fetch.js';
import { defaultSecretPath, readSecretFile, writeSecretFile } from '../../secret-file.js';
import { createParallelScrubStream, createScrubPool, ScrubWorkerError, type ScrubPool } from '../parallel.js';
import { createScrubStream, type ScrubOptions } from '../stream.js';
import { BodyRefused, BodyWatch, DecodedBody, decoderFor, tooLarge, type BodyLimits } from './ingest-body.js';

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
 * are sent as Basic auth. Anything but 2xx is a failure, a redirect included.
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
      const response = await fetchWithoutRedirects(url, {
        method: 'POST',
        headers,
        body: new Uint8Array(batch),
        signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      });
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
  /**
   * Bearer tokens clients may send, one per shipper or fleet: each token has its own share of the slots.
   * Undefined only when authentication was switched off on purpose.
   */
  tokens: readonly string[] | undefined;
  /** Batches being received, scrubbed or forwarded at once; more get 503 and Retry-After (default 8). */
  maxInFlight?: number;
  /**
   * How many of those one client may hold: one token, or one address without authentication (default half of
   * `maxInFlight`, rounded up), so one shipper's slow uploads cannot take every slot.
   */
  maxInFlightPerClient?: number;
  /** Largest batch, as received and after decompression (default 16 MiB); larger ones get 413. */
  maxBatchBytes?: number;
  /** A compressed batch that inflates to more than this many times its size (past 1 MiB) gets 413 (default 100). */
  maxCompressionRatio?: number;
  /** Time to receive the request headers (default 10 s); then 408 and the connection is closed. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, headers and body (default 60 s); then 408 and the connection is closed. */
  requestTimeoutMs?: number;
  /** A body that brings fewer bytes than this per second over any `bodyRateWindowMs` gets 408 (default 4 KiB/s). */
  minBodyBytesPerSecond?: number;
  /** Default 5 s. */
  bodyRateWindowMs?: number;
  scrub?: Omit<ScrubOptions, 'format'>;
  /**
   * Worker threads that scrub every batch, started with the server and shared by all batches (default one per
   * core); 1: batches are scrubbed on the main thread, no workers.
   */
  threads?: number;
  /** How many forwarded batch ids are remembered to drop retried duplicates (default 100 000). */
  rememberBatchIds?: number;
}

export interface IngestStats {
  batches: number;
  lines: number;
  duplicates: number;
  rejectedBusy: number;
  refusedBodies: number;
  forwardFailures: number;
  /** Batches answered 500 because a scrub worker failed (nothing of them was forwarded). */
  scrubFailures: number;
  /** Scrub worker pools started again after a worker failed. */
  workerRestarts: number;
}

export interface IngestServer {
  /** Base URL, e.g. http://127.0.0.1:8787 */
  url: string;
  readonly stats: IngestStats;
  close(): Promise<void>;
}

/** Headers a shipper can set to make retries safe; the first is Warden's, the second the IETF draft's. */
export const BATCH_ID_HEADERS = ['x-warden-batch-id', 'idempotency-key'] as const;
const RETRY_AFTER_SECONDS = '1';
/**
 * After a worker fails, its pool is started again no sooner than this after the last start: workers that fail
 * as they start are not restarted in a tight loop. Meanwhile batches get 500 and are retried.
 */
const WORKER_RESTART_INTERVAL_MS = 1000;
/** Below this many decoded bytes the compression ratio is not checked: small, repetitive batches are normal. */
const RATIO_FLOOR_BYTES = 1024 * 1024;

/**
 * `drain`: the body is still arriving: after answering, read and discard the rest within the body limits (so a
 * client still sending sees the answer rather than a reset), and close the connection if it breaks one.
 */
type Outcome = { status: number; body: Record<string, unknown>; drain?: BodyWatch };

/** A random token for the ingest point (written to a token file when WARDEN_INGEST_TOKEN is unset). */
export function generateIngestToken(): string {
  return randomBytes(24).toString('base64url');
}

/** One request, after its route's `auth` passed. */
interface IngestCall {
  req: IncomingMessage;
  res: ServerResponse;
  reply(outcome: Outcome, headers?: Record<string, string>): void;
  /** Answers without reading the body: the rest is drained within the body limits. */
  refuse(outcome: Outcome, headers?: Record<string, string>): void;
  /** Whose share of the slots this batch takes: its token, or its address without authentication. */
  client: string;
  point: IngestPoint;
}

/** Who may call: anyone (`none`), or a client with one of the ingest tokens (unless authentication is off). */
type IngestRoute = Route<'none' | 'token', (call: IngestCall) => Promise<void> | void>;

/** The ingest point's routes: a batch may be posted to any path. */
export const INGEST_ROUTES: readonly IngestRoute[] = [
  { method: 'GET', path: '/healthz', auth: 'none', handle: ({ reply }) => reply({ status: 200, body: { ok: true } }) },
  { method: 'POST', path: '*', auth: 'token', handle: (call) => call.point.receive(call) },
];

const ROUTES = new RouteTable(INGEST_ROUTES);

interface IngestLimits {
  maxInFlight: number;
  maxInFlightPerClient: number;
  body: BodyLimits;
  /** How many forwarded batch ids are remembered. */
  remember: number;
}

/**
 * The batches: slots, retries of the same batch id, scrubbing and forwarding. With more than one thread,
 * batches are scrubbed on one pool of workers that lives as long as the point. A worker failure fails the
 * batches on the pool (500, nothing forwarded, the shippers retry), and the pool is started again.
 */
class IngestPoint {
  readonly stats: IngestStats = {
    batches: 0,
    lines: 0,
    duplicates: 0,
    rejectedBusy: 0,
    refusedBodies: 0,
    forwardFailures: 0,
    scrubFailures: 0,
    workerRestarts: 0,
  };
  private readonly pending = new Map<string, Promise<Outcome>>();
  private readonly forwarded = new Set<string>();
  private inFlight = 0;
  private readonly inFlightByClient = new Map<string, number>();
  private workers: ScrubPool | undefined;
  private workersStartedAt = 0;
  private restart: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly options: IngestOptions,
    private readonly limits: IngestLimits,
  ) {}

  /** Starts the scrub workers (unless one thread was asked for), ready when this resolves. */
  async start(): Promise<void> {
    const threads = this.options.threads ?? availableParallelism();
    if (threads > 1) await this.startWorkers(threads).ready;
  }

  private startWorkers(threads: number): ScrubPool {
    this.workersStartedAt = Date.now();
    const workers = createScrubPool({
      ...this.options.scrub,
      format: 'ndjson',
      threads,
      onFailure: () => {
        void workers.close();
        if (this.closed) return;
        this.stats.workerRestarts++;
        this.restart = setTimeout(() => this.startWorkers(threads), Math.max(0, this.workersStartedAt + WORKER_RESTART_INTERVAL_MS - Date.now()));
      },
    });
    this.workers = workers;
    return workers;
  }

  /** Called once no batch is in flight. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.restart);
    await this.workers?.close();
  }

  async receive({ req, res, reply, refuse, client }: IngestCall): Promise<void> {
    const { stats, limits } = this;
    let decoding: ReturnType<typeof decoderFor>;
    try {
      decoding = decoderFor(req.headers['content-encoding']);
    } catch (err) {
      if (!(err instanceof BodyRefused)) throw err;
      return refuse({ status: err.status, body: { error: err.message } });
    }
    if (Number(req.headers['content-length'] ?? 0) > limits.body.maxBytes) {
      // Reading it only to refuse it would cost as much as accepting it: answer now and close.
      res.setHeader('connection', 'close');
      return reply({ status: 413, body: { error: tooLarge(limits.body.maxBytes).message } });
    }
    const id = batchIdOf(req);
    if (id !== undefined && this.forwarded.has(id)) {
      stats.duplicates++;
      return refuse({ status: 200, body: { duplicate: true } });
    }
    const running = id === undefined ? undefined : this.pending.get(id);
    if (running) {
      // The same batch is still being forwarded (the shipper gave up waiting and retried): share its answer.
      stats.duplicates++;
      const drain = new BodyWatch(req, limits.body);
      req.resume();
      return reply({ ...(await running), drain });
    }
    const clientInFlight = this.inFlightByClient.get(client) ?? 0;
    if (this.inFlight >= limits.maxInFlight || clientInFlight >= limits.maxInFlightPerClient) {
      stats.rejectedBusy++;
      return refuse({
        status: 503,
        body: { error: this.inFlight >= limits.maxInFlight ? 'busy; retry later' : `this client already has ${clientInFlight} batches in flight; retry later` },
      });
    }
    this.inFlight++;
    this.inFlightByClient.set(client, clientInFlight + 1);
    const outcome = this.handleBatch(req, decoding);
    if (id !== undefined) this.pending.set(id, outcome);
    try {
      const result = await outcome;
      if (id !== undefined && result.status === 200) {
        this.forwarded.add(id);
        if (this.forwarded.size > limits.remember) this.forwarded.delete(this.forwarded.values().next().value!);
      }
      reply(result);
    } finally {
      this.inFlight--;
      const left = this.inFlightByClient.get(client)! - 1;
      if (left === 0) this.inFlightByClient.delete(client);
      else this.inFlightByClient.set(client, left);
      if (id !== undefined) this.pending.delete(id);
    }
  }

  private async handleBatch(req: IncomingMessage, decoding: ReturnType<typeof decoderFor>): Promise<Outcome> {
    const { stats } = this;
    const limits = this.limits.body;
    const watch = new BodyWatch(req, limits);
    const scrubber = this.workers ? createParallelScrubStream({ pool: this.workers }) : createScrubStream({ ...this.options.scrub, format: 'ndjson' });
    const parts: Buffer[] = [];
    const collector = new Writable({
      write(chunk: Buffer, _enc, done) {
        parts.push(chunk);
        done();
      },
    });
    const decoder = decoding?.create();
    const head = decoder ?? scrubber;
    req.pipe(head);
    void watch.done.then((refusal) => refusal && head.destroy(refusal));
    try {
      await (decoder ? pipeline(decoder, new DecodedBody(limits, decoder), scrubber, collector) : pipeline(scrubber, collector));
    } catch (err) {
      req.unpipe(head);
      if (err instanceof ScrubWorkerError) {
        stats.scrubFailures++;
        return { status: 500, body: { error: `scrubbing failed: ${err.message}` }, drain: watch };
      }
      stats.refusedBodies++;
      const refusal = err instanceof BodyRefused ? err : new BodyRefused(400, decoding ? `body is not valid ${decoding.name}` : 'could not read body');
      // Decoding stopped here; the rest of the body, if any, is only read and discarded.
      return { status: refusal.status, body: { error: refusal.message }, drain: watch };
    }
    let batch = Buffer.concat(parts);
    if (batch.length && batch[batch.length - 1] !== 10) batch = Buffer.concat([batch, Buffer.from('\n')]);
    const lines = scrubber.stats.lines;
    if (batch.length) {
      try {
        await this.options.forwarder.forward(batch);
      } catch (err) {
        stats.forwardFailures++;
        return { status: 502, body: { error: `forwarding failed: ${(err as Error).message}` } };
      }
    }
    stats.batches++;
    stats.lines += lines;
    return { status: 200, body: { lines } };
  }
}

/**
 * An HTTP ingest point for log shippers (routes: `INGEST_ROUTES`): POST NDJSON (optionally gzip, deflate
 * or br) and get 200 only once the scrubbed batch is forwarded; 503 when busy and 5xx when forwarding
 * failed, so the shipper retries; a repeated batch id is acknowledged without forwarding twice. Bodies
 * are bounded in size (received and decoded), compression ratio and rate; slots are bounded globally and
 * per client.
 */
export async function startIngestServer(options: IngestOptions): Promise<IngestServer> {
  const maxInFlight = options.maxInFlight ?? 8;
  const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
  const requestTimeoutMs = Math.max(options.requestTimeoutMs ?? 60_000, headersTimeoutMs);
  const limits: BodyLimits = {
    maxBytes: options.maxBatchBytes ?? 16 * 1024 * 1024,
    maxCompressionRatio: options.maxCompressionRatio ?? 100,
    ratioFloorBytes: RATIO_FLOOR_BYTES,
    minBytesPerSecond: options.minBodyBytesPerSecond ?? 4096,
    rateWindowMs: options.bodyRateWindowMs ?? 5000,
  };
  if (options.tokens?.length === 0) throw new UsageError('the ingest point needs at least one token');
  const expected = options.tokens?.map(digest);
  const point = new IngestPoint(options, {
    maxInFlight,
    maxInFlightPerClient: Math.min(options.maxInFlightPerClient ?? Math.ceil(maxInFlight / 2), maxInFlight),
    body: limits,
    remember: options.rememberBatchIds ?? 100_000,
  });
  try {
    await point.start();
  } catch (err) {
    await point.close();
    throw err;
  }

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const reply = ({ status, body, drain }: Outcome, headers: Record<string, string> = {}) => {
      if (res.headersSent || res.destroyed) return;
      if (status === 503 || status >= 500) headers['retry-after'] ??= RETRY_AFTER_SECONDS;
      if (drain?.refusal) headers.connection = 'close';
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body) + '\n');
      if (drain && !drain.refusal) {
        req.resume();
        void Promise.all([drain.done, finished(res).catch(() => {})]).then(([cut]) => cut && req.socket.destroy());
      }
    };
    const refuse = (outcome: Outcome, headers: Record<string, string> = {}) => reply({ ...outcome, drain: new BodyWatch(req, limits) }, headers);
    const found = ROUTES.match(req.method ?? 'GET', (req.url ?? '/').split('?')[0]!);
    if (found === undefined || found === 'method') return refuse({ status: 405, body: { error: 'POST NDJSON batches' } }, { allow: 'POST' });
    let client = `address ${req.socket.remoteAddress}`;
    if (found.route.auth === 'token' && expected) {
      const tokenIndex = authorizedToken(req.headers.authorization, expected);
      if (tokenIndex < 0)
        return refuse({ status: 401, body: { error: 'missing or wrong bearer token' } }, { 'www-authenticate': 'Bearer realm="warden-ingest"' });
      client = `token ${tokenIndex}`;
    }
    return found.route.handle({ req, res, reply, refuse, client, point });
  };

  // Node answers 408 and closes a connection whose headers or whole request take longer than these; it
  // checks every connectionsCheckingInterval, so that is kept well under the shorter one.
  const server: Server = createServer(
    { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: Math.max(10, Math.min(1000, headersTimeoutMs / 4)) },
    (req, res) => {
      onRequest(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'retry-after': RETRY_AFTER_SECONDS, connection: 'close' });
        res.end();
      });
    },
  );
  try {
    await listenAt(server, { port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (err) {
    await point.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  return {
    url: `http://${hostPort(address.address, address.port)}`,
    stats: point.stats,
    async close() {
      // Stop accepting, let batches in flight finish and be forwarded, then release the target and the workers.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.all([options.forwarder.close(), point.close()]);
    },
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Which token the Authorization header carries, or -1. Constant time whatever the length of what the client
 * sent (both sides hashed to 32 bytes first) and whichever token matches (every one is compared).
 */
function authorizedToken(header: string | undefined, expected: readonly Buffer[]): number {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const presented = digest(m ? m[1]! : '');
  let found = -1;
  expected.forEach((token, i) => {
    if (timingSafeEqual(presented, token) && m !== null) found = i;
  });
  return found;
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

export interface ServeIngestOptions {
  listen: string;
  forward: string;
  /** False only when the user passed --no-auth. */
  auth: boolean;
  /** WARDEN_INGEST_TOKEN: one or more tokens, separated by commas. */
  token?: string | undefined;
  /** Where the tokens are kept when `token` is unset (default `defaultIngestTokenPath()`). */
  tokenFile?: string | undefined;
  maxInFlight?: number;
  scrub?: Omit<ScrubOptions, 'format'>;
  /** Scrub worker threads, started with the server (default one per core; 1: none). */
  threads?: number;
  /** Aborting stops the server after batches in flight are forwarded. */
  signal: AbortSignal;
  /** Human progress lines (stderr). */
  log: (line: string) => void;
}

export function defaultIngestTokenPath(): string {
  return defaultSecretPath('ingest-token');
}

/** `warden scrub --listen … --forward …`: runs the ingest point until `signal` aborts. */
export async function serveIngest(options: ServeIngestOptions): Promise<IngestStats> {
  const { host, port } = parseListenAddress(options.listen);
  if (!options.auth && !isLoopbackHost(host)) throw new UsageError('--no-auth is only allowed on a loopback address; set WARDEN_INGEST_TOKEN instead');
  if (options.token && options.tokenFile) throw new UsageError('set WARDEN_INGEST_TOKEN or --token-file, not both');
  const tokens = options.auth ? await loadIngestTokens(options.token, options.tokenFile ?? defaultIngestTokenPath(), options.log) : undefined;
  const forwarder = createForwarder(options.forward);
  const server = await startIngestServer({
    forwarder,
    host,
    port,
    tokens,
    ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.scrub ? { scrub: options.scrub } : {}),
    ...(options.threads ? { threads: options.threads } : {}),
  });
  options.log(`listening on ${server.url}${tokens ? '' : ' without authentication'}; forwarding to ${forwarder.description}`);
  if (!options.signal.aborted) await new Promise((resolve) => options.signal.addEventListener('abort', resolve, { once: true }));
  await server.close();
  const s = server.stats;
  options.log(
    `stopped: ${s.batches} batches, ${s.lines} lines forwarded; ${s.duplicates} duplicate(s), ${s.rejectedBusy} busy rejection(s), ${s.refusedBodies} batch(es) refused while reading, ${s.forwardFailures} forward failure(s), ${s.scrubFailures} scrub failure(s), ${s.workerRestarts} worker restart(s)`,
  );
  return s;
}

/**
 * The bearer tokens: from WARDEN_INGEST_TOKEN, else the token file (one a line), which is created holding one
 * generated token when missing. A token is never logged: stderr is the journal or container log.
 */
async function loadIngestTokens(fromEnv: string | undefined, path: string, log: (line: string) => void): Promise<string[]> {
  if (fromEnv) return parseIngestTokens(fromEnv.split(','), 'WARDEN_INGEST_TOKEN');
  try {
    return parseIngestTokens((await readSecretFile(path)).split('\n'), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw tokenFileError(err, path);
  }
  const token = generateIngestToken();
  try {
    writeSecretFile(path, `${token}\n`);
  } catch (err) {
    throw tokenFileError(err, path);
  }
  log(`generated an ingest token in ${path} (mode 0600); shippers send it as "Authorization: Bearer <token>"`);
  return [token];
}

function tokenFileError(err: unknown, path: string): Error {
  if (err instanceof WardenError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new UsageError(`ingest token file ${path}: ${code}; set WARDEN_INGEST_TOKEN or --token-file`);
}

/** Tokens one an entry (blank entries and # comments skipped); each must fit a Bearer header as one word. */
function parseIngestTokens(entries: string[], source: string): string[] {
  const tokens: string[] = [];
  entries.forEach((entry, i) => {
    const token = entry.trim();
    if (token === '' || token.startsWith('#')) return;
    // The entry is not echoed: it may be a token with a typo.
    if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${source}: entry ${i + 1} is not a token (visible ASCII without spaces)`);
    tokens.push(token);
  });
  if (tokens.length === 0) throw new UsageError(`${source}: no token`);
  return tokens;
}
