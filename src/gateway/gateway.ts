/**
 * The gateway: every request finds its route, its endpoint in the upstream's profile, a credential
 * the route accepts and an allow rule whose scopes that identity holds, or it is refused with a JSON
 * error. Nothing passes through on doubt: an unknown route, an unnamed path, an unreachable key
 * store past its staleness bound or a bad token all stop at the gateway.
 */
import { createWriteStream, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer as createHttpServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WardenError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { listenAt } from '../listen-address.js';
import { KeyStore } from '../keys/index.js';
import { AccessLog, identityForLog } from './access-log.js';
import { AssertionSigner } from './assertion.js';
import type { Identity } from './auth/identity.js';
import { OidcVerifier } from './auth/oidc.js';
import { GatewayConfigError, loadGatewayConfig, type GatewayConfig, type RouteConfig } from './config.js';
import { authorize, type AuthzAnswer, type OriginalRequest } from './authz/authorize.js';
import { startEnvoyGrpcServer, type EnvoyGrpcServer } from './authz/envoy-grpc.js';
import { AuthzHttpServer } from './authz/http-server.js';
import { InFlightLimits, limitedParty, watchBodyRate } from './limits.js';
import { GatewayMetrics, type MetricsSnapshot } from './metrics.js';
import {
  CHALLENGE,
  decide,
  identityFields,
  KEY_REFUSALS,
  refusalBody,
  refuse,
  upgradeRefusal,
  type Decision,
  type PolicyRequest,
  type PolicyState,
  type Refusal,
} from './policy.js';
import { closeUpgrade, forward, forwardUpgrade, headersNotForwarded, ownedConnectionOption, UpstreamPools, type UpstreamRequest } from './proxy.js';
import { selectEngine, type ClientListener, type HttpEngine } from './engine.js';
import type { ClientRequest, ClientResponse } from './server.js';

export interface GatewayOptions {
  config: GatewayConfig;
  /** Where the config came from: reload reads it again (SIGHUP, `watch`). */
  configPath?: string;
  /** Reload when the config file changes. */
  watch?: boolean;
  /** A key store to verify with; default: opened from `config.keys`. */
  keys?: KeyStore;
  /** Access log sink; default from `config.accessLog` (a file, or stdout for `-`). */
  accessLog?: Writable | null;
  /** Operational messages (reloads, their errors); never carries a credential. */
  log?: (message: string) => void;
  /** Open the `/metrics` listener the config names (default true; false in all but one `--workers` process). */
  serveMetrics?: boolean;
  /** The other `--workers` processes' counters, added to this one's on `/metrics`. */
  metricsPeers?: () => Promise<MetricsSnapshot[]>;
  /**
   * `proxy` (default): the proxy listener, and the `authz` listeners too when the config has them; `authz`: only
   * the authorization server, for a proxy already in front (the config must have an `authz` section).
   */
  mode?: GatewayMode;
}

export const GATEWAY_MODES = ['proxy', 'authz'] as const;
export type GatewayMode = (typeof GATEWAY_MODES)[number];

export interface ReloadResult {
  ok: boolean;
  error?: string;
  /** Sections that changed but only take effect on restart. */
  restartNeeded: string[];
}

/** Everything a reload replaces; a request keeps the state it started with. */
interface RequestState extends PolicyState {
  /** Per route: request headers a client may not send because the gateway sets them. */
  dropHeaders: WeakMap<RouteConfig, ReadonlySet<string>>;
}

/** The gateway could not start serving: a listener's address is taken or not allowed. */
export class GatewayStartError extends WardenError {
  constructor(message: string) {
    super(message, 'GATEWAY_START_FAILED', 3);
  }
}

async function listenOn(server: Server, port: number, host: string, what: string): Promise<void> {
  await listenAt(server, { host, port }).catch((err: NodeJS.ErrnoException) => {
    throw new GatewayStartError(`cannot listen on ${host}:${port} for ${what}: ${err.code ?? err.message}`);
  });
}

/** How often a watched config file is looked at (`watch`). */
const CONFIG_POLL_MS = 250;

/** A request whose Connection header names a field the gateway computes, sets or checks (proxy.ts, ownedConnectionOption). */
const CONNECTION_NAMES_OWNED = refuse(400, 'bad_request', 'connection_names_owned_field');

/** An identity (or a client address) with as many exchanges in flight on an upstream as its route allows. */
const CONCURRENCY_REFUSAL: Refusal = {
  ...refuse(429, 'rate_limited', 'concurrency', { 'retry-after': '1' }),
  message: 'too many requests in flight for this identity; retry when one has finished',
};
/** A request body that arrived below the route's rate floor, answered if nothing else was yet. */
const BODY_TOO_SLOW: Refusal = { ...refuse(408, 'request_timeout', 'body_too_slow'), message: 'the request body arrived too slowly' };

/** The policy's view of a request the gateway itself received. */
function policyRequest(req: ClientRequest, path: string, query: string, clientIp: string): PolicyRequest {
  const apiKey = req.headers['x-api-key'];
  const socket = req.socket as TLSSocket;
  return {
    method: req.method,
    host: req.headers.host,
    path,
    query,
    apiKey: typeof apiKey === 'string' ? apiKey : undefined,
    authorization: req.headers.authorization,
    clientIp,
    tls: socket.encrypted ? socket : null,
    userAgent: req.headers['user-agent'],
    via: 'gateway',
  };
}

export class Gateway {
  readonly metrics = new GatewayMetrics();
  private state: RequestState;
  private readonly keys: KeyStore;
  private readonly ownsKeys: boolean;
  private readonly accessLog: AccessLog;
  private readonly ownedLogStream: Writable | null;
  private readonly pools: UpstreamPools;
  private readonly inFlight = new InFlightLimits();
  private readonly log: (message: string) => void;
  private readonly metricsPeers: (() => Promise<MetricsSnapshot[]>) | undefined;
  private server: ClientListener | null = null;
  private authzServer: AuthzHttpServer | null = null;
  private grpcServer: EnvoyGrpcServer | null = null;
  private metricsServer: HttpServer | null = null;
  private readonly configPath: string | undefined;
  /** Polls the config file for changes (`watch`). */
  private configPoll: NodeJS.Timeout | undefined;

  private constructor(
    options: GatewayOptions,
    keys: KeyStore,
    ownsKeys: boolean,
    /** The HTTP engine both sides run on, chosen once as the gateway starts. */
    readonly engine: HttpEngine,
  ) {
    this.pools = new UpstreamPools(engine);
    this.keys = keys;
    this.ownsKeys = ownsKeys;
    this.configPath = options.configPath;
    this.log = options.log ?? (() => undefined);
    this.metricsPeers = options.metricsPeers;
    const config = options.config;
    this.state = {
      config,
      oidc: new OidcVerifier(config.oidc),
      assertion: config.assertion ? new AssertionSigner(config.assertion) : null,
      dropHeaders: new WeakMap(),
    };
    let sink: Writable | null;
    if (options.accessLog !== undefined) {
      sink = options.accessLog;
      this.ownedLogStream = null;
    } else if (!config.accessLog) {
      sink = this.ownedLogStream = null;
    } else if (config.accessLog.path === '-') {
      sink = process.stdout;
      this.ownedLogStream = null;
    } else {
      sink = this.ownedLogStream = createWriteStream(config.accessLog.path, { flags: 'a', mode: 0o600 });
    }
    this.accessLog = new AccessLog(sink);
    if (options.watch && this.configPath) {
      // Polled against the file as it was when loaded, not against a first poll: fs.watchFile takes its first
      // stat later, on a busy thread pool after a change made just after start, which it then never reports.
      const path = this.configPath;
      let known = statSync(path, { throwIfNoEntry: false });
      this.configPoll = setInterval(() => {
        stat(path).then(
          (now) => {
            if (known && now.mtimeMs === known.mtimeMs && now.size === known.size) return;
            known = now;
            void this.reload();
          },
          () => undefined,
        );
      }, CONFIG_POLL_MS);
      this.configPoll.unref();
    }
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const engine = selectEngine(options.config.listen.engine, process.env, options.log ?? ((line) => process.emitWarning(line)));
    const ownsKeys = !options.keys;
    const c = options.config.keys;
    const keys =
      options.keys ??
      (await KeyStore.open({
        ...(c.store ? { store: c.store } : {}),
        ...(c.maxStalenessMs ? { maxStalenessMs: c.maxStalenessMs } : {}),
        ...(c.prefix ? { prefix: c.prefix } : {}),
      }));
    const gateway = new Gateway(options, keys, ownsKeys, engine);
    try {
      await gateway.listen(options.serveMetrics ?? true, options.mode ?? 'proxy');
    } catch (err) {
      await gateway.close();
      throw err;
    }
    return gateway;
  }

  get config(): GatewayConfig {
    return this.state.config;
  }

  /** The proxy's own address, e.g. `http://127.0.0.1:8480` (not in authz mode). */
  get url(): string {
    const a = this.server!.server.address() as AddressInfo;
    return `${this.state.config.listen.tls ? 'https' : 'http'}://${hostPort(a.address, a.port)}`;
  }

  /** The authorization server's HTTP address, e.g. `http://127.0.0.1:8481`, or null. */
  get authzUrl(): string | null {
    if (!this.authzServer) return null;
    const a = this.authzServer.server.address() as AddressInfo;
    return `http://${hostPort(a.address, a.port)}`;
  }

  /** The authorization server's gRPC address (host:port), or null. */
  get authzGrpcAddress(): string | null {
    const grpc = this.state.config.authz?.grpc;
    return this.grpcServer && grpc ? hostPort(grpc.host, this.grpcServer.port) : null;
  }

  get metricsUrl(): string | null {
    if (!this.metricsServer) return null;
    const a = this.metricsServer.address() as AddressInfo;
    return `http://${hostPort(a.address, a.port)}/metrics`;
  }

  private async listen(serveMetrics: boolean, mode: GatewayMode): Promise<void> {
    const { listen, authz } = this.state.config;
    const metrics = serveMetrics ? this.state.config.metrics : null;
    if (mode === 'authz' && !authz) throw new GatewayConfigError('--mode authz needs an authz section in the config (authz.listen, authz.grpc or both)');
    if (mode === 'proxy') {
      const server = this.engine.listen(
        { request: (req, res) => void this.handle(req, res), upgrade: (req, socket, head) => void this.handleUpgrade(req, socket, head) },
        listen.tls
          ? {
              cert: listen.tls.cert,
              key: listen.tls.key,
              ...(listen.tls.clientCa ? { ca: listen.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
            }
          : undefined,
      );
      this.server = server;
      await listenOn(server.server, listen.port, listen.host, 'requests');
    }
    const judge = (report: OriginalRequest | Refusal) => this.authorizeReport(report);
    if (authz?.http) {
      this.authzServer = new AuthzHttpServer(this.engine, judge, this.log);
      await listenOn(this.authzServer.server, authz.http.port, authz.http.host, 'authorization (HTTP)');
    }
    if (authz?.grpc) {
      const { host, port } = authz.grpc;
      this.grpcServer = await startEnvoyGrpcServer(host, port, judge, this.log).catch((err: Error) => {
        throw new GatewayStartError(`cannot listen on ${host}:${port} for authorization (gRPC): ${err.message}`);
      });
    }
    if (metrics) {
      const ms = createHttpServer((req, res) => void this.serveMetrics(req, res));
      this.metricsServer = ms;
      await listenOn(ms, metrics.port, metrics.host, 'metrics');
    }
  }

  /** Reads the config file again and swaps it in for new requests; a bad file leaves the running config alone. */
  async reload(): Promise<ReloadResult> {
    if (!this.configPath) return { ok: false, error: 'no config file to reload from', restartNeeded: [] };
    let next: GatewayConfig;
    try {
      next = loadGatewayConfig(this.configPath);
    } catch (err) {
      this.metrics.reloadFailures++;
      const error = (err as Error).message;
      this.log(`gateway: reload failed, keeping the running config: ${error}`);
      return { ok: false, error, restartNeeded: [] };
    }
    const prev = this.state;
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const restartNeeded = (['listen', 'keys', 'metrics', 'accessLog', 'authz'] as const).filter((k) => !same(prev.config[k], next[k]));
    this.state = {
      config: {
        ...next,
        listen: prev.config.listen,
        keys: prev.config.keys,
        metrics: prev.config.metrics,
        accessLog: prev.config.accessLog,
        authz: prev.config.authz,
      },
      // Keep caches (JWKS, verified tokens, signing keys) when their section did not change.
      oidc: same(prev.config.oidc, next.oidc) ? prev.oidc : new OidcVerifier(next.oidc),
      assertion: same(prev.config.assertion, next.assertion) ? prev.assertion : next.assertion ? new AssertionSigner(next.assertion) : null,
      dropHeaders: new WeakMap(),
    };
    this.metrics.reloads++;
    this.log(`gateway: config reloaded (${next.routes.length} routes)${restartNeeded.length ? `; restart to apply ${restartNeeded.join(', ')}` : ''}`);
    return { ok: true, restartNeeded };
  }

  private upstreamRequest(state: RequestState, d: Decision, clientIp: string, secure: boolean): UpstreamRequest {
    const route = d.route;
    let drop = state.dropHeaders.get(route);
    if (!drop) {
      // Whatever the gateway sets is never also taken from the client: a second copy could be the one the upstream reads.
      drop = headersNotForwarded(route, [
        ...route.identityHeaders.map(([h]) => h),
        ...route.upstream.inject.map(([h]) => h),
        ...(state.assertion ? [state.assertion.header] : []),
      ]);
      state.dropHeaders.set(route, drop);
    }
    const set: Array<[string, string]> = [...route.upstream.inject, ...identityFields(state, d)];
    return { route, target: d.target, set, drop, clientIp, secure };
  }

  /**
   * Forwards within the route's limits: a place among the exchanges its identity (or client address) has in flight
   * on the upstream, or 429; and a floor under the rate its body arrives at, or the exchange is abandoned (its
   * upstream connection closed, never back in the pool) and the client, if nothing was answered yet, gets 408. The
   * place is held until the body has arrived too, since an upstream that answers early still reads the rest.
   */
  private async forwardWithinLimits(
    d: Decision,
    up: UpstreamRequest,
    req: ClientRequest,
    res: ClientResponse,
    clientIp: string,
  ): Promise<{ status: number; bytes: number; reason: string | undefined }> {
    const route = d.route;
    const pool = this.pools.for(route.upstream);
    const party = limitedParty(d.identity, clientIp);
    if (!this.inFlight.acquire(pool, party, route.limits.inFlightPerIdentity)) {
      this.sendJson(res, 429, refusalBody(CONCURRENCY_REFUSAL, route.name), CONCURRENCY_REFUSAL.headers);
      return { status: 429, bytes: 0, reason: CONCURRENCY_REFUSAL.reason };
    }
    const body = req.body;
    let tooSlow = false;
    const unwatch = body
      ? watchBodyRate(body, route.limits.bodyRate, () => {
          tooSlow = true;
          // After a whole answer only the client's connection is left to cut; its body goes with it, and the upstream connection it fed.
          if (res.finished) res.destroy();
          else res.abandonRequest();
        })
      : null;
    const done = () => {
      unwatch?.();
      this.inFlight.release(pool, party);
    };
    try {
      const outcome = await forward(this.pools, req, res, up, (s, error) =>
        this.sendJson(res, s, { error, message: 'the upstream did not answer', route: route.name }),
      );
      if (!tooSlow) return { status: outcome.status, bytes: outcome.bytes, reason: outcome.error };
      if (res.headersSent) {
        res.destroy();
        return { status: outcome.status, bytes: outcome.bytes, reason: BODY_TOO_SLOW.reason };
      }
      this.sendJson(res, BODY_TOO_SLOW.status, refusalBody(BODY_TOO_SLOW, route.name));
      return { status: BODY_TOO_SLOW.status, bytes: 0, reason: BODY_TOO_SLOW.reason };
    } finally {
      if (body && !body.closed) body.once('close', done);
      else done();
    }
  }

  private sendJson(res: ClientResponse | ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    const fields = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', ...headers };
    if (res instanceof ServerResponse) res.writeHead(status, fields);
    else res.writeHead(status, STATUS_CODES[status] ?? '', Object.entries(fields).flat(), true);
    res.end(text);
  }

  private async handle(req: ClientRequest, res: ClientResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const state = this.state;
    const rawTarget = req.url;
    const q = rawTarget.indexOf('?');
    const path = q < 0 ? rawTarget : rawTarget.slice(0, q);
    const query = q < 0 ? '' : rawTarget.slice(q + 1);
    const clientIp = req.socket.remoteAddress ?? '';
    const method = req.method;
    this.metrics.inflight++;
    let status = 500;
    let bytes = 0;
    let reason: string | undefined;
    let routeName: string | null = null;
    let endpointName: string | null = null;
    let identity: Identity | null = null;
    try {
      if (state.assertion && path === state.assertion.jwksPath && method === 'GET') {
        const body = JSON.stringify(state.assertion.jwks());
        res.writeHead((status = 200), 'OK', ['content-type', 'application/json', 'content-length', String(body.length), 'cache-control', 'max-age=60'], true);
        res.end(body);
        bytes = body.length;
        return;
      }
      const decided = decide(state, this.keys, policyRequest(req, path, query, clientIp));
      const d = decided instanceof Promise ? await decided : decided;
      if (!('target' in d)) {
        this.sendJson(res, (status = d.status), refusalBody(d, null), d.headers);
        reason = d.reason;
        return;
      }
      routeName = d.route.name;
      endpointName = d.endpoint?.name ?? null;
      identity = d.identity;
      if (d.refusal) {
        this.sendJson(res, (status = d.refusal.status), refusalBody(d.refusal, routeName), d.refusal.headers);
        reason = d.refusal.reason;
        return;
      }
      const up = this.upstreamRequest(state, d, clientIp, Boolean(state.config.listen.tls));
      if (ownedConnectionOption(req, up.drop)) {
        res.closeConnection();
        this.sendJson(res, (status = CONNECTION_NAMES_OWNED.status), refusalBody(CONNECTION_NAMES_OWNED, routeName));
        reason = CONNECTION_NAMES_OWNED.reason;
        return;
      }
      const outcome = await this.forwardWithinLimits(d, up, req, res, clientIp);
      status = outcome.status;
      bytes = outcome.bytes;
      reason = outcome.reason;
    } catch (err) {
      // A bug must not become a pass-through or a hung client.
      reason = 'internal_error';
      this.log(`gateway: internal error: ${(err as Error).message}`);
      if (!res.headersSent) this.sendJson(res, (status = 500), { error: 'internal_error' });
      else res.destroy();
    } finally {
      this.metrics.inflight--;
      this.recordExchange({ started, route: routeName, endpoint: endpointName, identity, method, target: rawTarget, status, bytes, reason, clientIp });
    }
  }

  private async handleUpgrade(req: ClientRequest, socket: Socket, head: Buffer): Promise<void> {
    const started = process.hrtime.bigint();
    const state = this.state;
    const rawTarget = req.url;
    const q = rawTarget.indexOf('?');
    const path = q < 0 ? rawTarget : rawTarget.slice(0, q);
    const clientIp = req.socket.remoteAddress ?? '';
    socket.on('error', () => socket.destroy());
    let status = 500;
    let bytes = 0;
    let reason: string | undefined;
    let d: Decision | Refusal | null = null;
    const reject = (r: Refusal, route: string | null) => {
      const body = JSON.stringify(refusalBody(r, route));
      const extra = Object.entries(r.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      closeUpgrade(
        socket,
        `HTTP/1.1 ${r.status} ${r.error}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
      );
      status = r.status;
      reason = r.reason;
    };
    try {
      d = await decide(state, this.keys, policyRequest(req, path, q < 0 ? '' : rawTarget.slice(q + 1), clientIp));
      if (!('target' in d)) reject(d, null);
      else if (d.refusal) reject(d.refusal, d.route.name);
      else {
        const up = this.upstreamRequest(state, d, clientIp, Boolean(state.config.listen.tls));
        const refusal = upgradeRefusal(req.headers.upgrade, d.endpoint) ?? (ownedConnectionOption(req, up.drop) ? CONNECTION_NAMES_OWNED : null);
        if (refusal) return reject(refusal, d.route.name);
        const outcome = await forwardUpgrade(req, socket, head, up);
        status = outcome.status;
        bytes = outcome.bytes;
        reason = outcome.error;
      }
    } catch (err) {
      reason = 'internal_error';
      this.log(`gateway: internal error: ${(err as Error).message}`);
      socket.destroy();
    } finally {
      const decided = d && 'target' in d ? d : null;
      this.recordExchange({
        started,
        route: decided?.route.name ?? null,
        endpoint: decided?.endpoint?.name ?? null,
        identity: decided?.identity ?? null,
        method: req.method,
        target: rawTarget,
        status,
        bytes,
        reason,
        clientIp,
      });
    }
  }

  /**
   * The authorization server's decision on a request another proxy reports (authz/), under the state of the
   * moment, recorded as the proxy records its exchanges: metrics and an access-log line with the original
   * method and target, 200 for an allowed request (whatever the upstream answers later is the proxy's to log).
   */
  private authorizeReport(report: OriginalRequest | Refusal): AuthzAnswer | Promise<AuthzAnswer> {
    const started = process.hrtime.bigint();
    const record = (a: AuthzAnswer): AuthzAnswer => {
      const d = a.decision;
      const original = 'status' in report ? null : report;
      this.recordExchange({
        started,
        route: d?.route.name ?? null,
        endpoint: d?.endpoint?.name ?? null,
        identity: d?.identity ?? null,
        method: original?.method ?? '-',
        target: original ? (original.query ? `${original.path}?${original.query}` : original.path) : '-',
        status: a.refusal?.status ?? 200,
        bytes: 0,
        reason: a.refusal?.reason,
        clientIp: original?.clientIp ?? '',
      });
      return a;
    };
    const answered = authorize(this.state, this.keys, report);
    return answered instanceof Promise ? answered.then(record) : record(answered);
  }

  /** An exchange is over: its metrics, and its access-log line (the identity's key id, never a key; the query scrubbed). */
  private recordExchange(e: {
    started: bigint;
    route: string | null;
    endpoint: string | null;
    identity: Identity | null;
    method: string;
    target: string;
    status: number;
    bytes: number;
    reason: string | undefined;
    clientIp: string;
  }): void {
    const seconds = Number(process.hrtime.bigint() - e.started) / 1e9;
    this.metrics.record(e.route, e.status, e.reason, seconds, e.bytes);
    if (!this.accessLog.enabled) return;
    this.accessLog.write({
      time: new Date().toISOString(),
      identity: identityForLog(e.identity),
      route: e.route,
      endpoint: e.endpoint,
      method: e.method,
      path: this.accessLog.safePath(e.target),
      status: e.status,
      bytes: e.bytes,
      latencyMs: Math.round(seconds * 1e6) / 1e3,
      client: e.clientIp,
      ...(e.reason ? { reason: e.reason } : {}),
    });
  }

  private async serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) return this.sendJson(res, 404, { error: 'not_found' });
    const auth = req.headers.authorization;
    const token = auth && /^bearer /i.test(auth) ? auth.slice(7).trim() : typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'] : '';
    if (!token) return this.sendJson(res, 401, { error: 'unauthorized', reason: 'no_credential' }, CHALLENGE);
    const v = await this.keys.verify(token, { ip: req.socket.remoteAddress ?? '', scopes: [this.state.config.metrics!.scope] });
    if (!v.valid) {
      const r = KEY_REFUSALS[v.reason ?? 'unknown']!;
      return this.sendJson(res, r.status, { error: r.error, reason: v.reason === 'scope' ? 'scope' : `key_${v.reason}` });
    }
    const body = (this.metricsPeers ? GatewayMetrics.combined([this.metrics.snapshot(), ...(await this.metricsPeers())]) : this.metrics).render();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  }

  /** Stops accepting, lets in-flight exchanges finish, then closes pools, the log and the key store. */
  async close(): Promise<void> {
    clearInterval(this.configPoll);
    const metricsServer = this.metricsServer;
    const closing = [
      this.server?.close(),
      this.authzServer?.close(),
      this.grpcServer?.close(),
      metricsServer?.listening && new Promise<void>((resolve) => metricsServer.close(() => resolve())),
    ];
    metricsServer?.closeAllConnections();
    await Promise.all(closing);
    this.pools.destroy();
    this.accessLog.close();
    if (this.ownedLogStream) await new Promise<void>((resolve) => this.ownedLogStream!.end(() => resolve()));
    if (this.ownsKeys) await this.keys.close();
  }
}
