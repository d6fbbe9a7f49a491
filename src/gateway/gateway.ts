/**
 * The gateway: every request finds its route, its endpoint in the upstream's profile, a credential
 * the route accepts and an allow rule whose scopes that identity holds, or it is refused with a JSON
 * error. Nothing passes through on doubt: an unknown route, an unnamed path, an unreachable key
 * store past its staleness bound or a bad token all stop at the gateway.
 */
import { createWriteStream, unwatchFile, watchFile } from 'node:fs';
import { createServer as createHttpServer, ServerResponse, STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WardenError } from '../errors.js';
import { listenAt } from '../listen-address.js';
import { KeyStore, parseKey, scopesAllow, type Verification, type VerifyRequest } from '../keys/index.js';
import { AccessLog, identityForLog } from './access-log.js';
import { AssertionSigner } from './assertion.js';
import type { CredentialKind, Identity } from './auth/identity.js';
import { certificateIdentity } from './auth/mtls.js';
import { OidcVerifier } from './auth/oidc.js';
import { identityValue, loadGatewayConfig, type AllowRule, type GatewayConfig, type RouteConfig } from './config.js';
import { InFlightLimits, limitedParty, watchBodyRate } from './limits.js';
import { GatewayMetrics, type MetricsSnapshot } from './metrics.js';
import { isAmbiguousPath, matchEndpoint, type Endpoint } from './profiles.js';
import { closeUpgrade, dropParams, forward, forwardUpgrade, headersNotForwarded, ownedConnectionOption, UpstreamPools, type UpstreamRequest } from './proxy.js';
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
}

export interface ReloadResult {
  ok: boolean;
  error?: string;
  /** Sections that changed but only take effect on restart. */
  restartNeeded: string[];
}

/** Everything a reload replaces; a request keeps the state it started with. */
interface RequestState {
  config: GatewayConfig;
  oidc: OidcVerifier;
  assertion: AssertionSigner | null;
  /** Per route: request headers a client may not send because the gateway sets them. */
  dropHeaders: WeakMap<RouteConfig, ReadonlySet<string>>;
}

interface Refusal {
  status: number;
  error: string;
  reason: string;
  headers?: Record<string, string>;
  /** Instead of the error's usual message. */
  message?: string;
}

type Decision = { route: RouteConfig; endpoint: Endpoint | null; identity: Identity | null; target: string; refusal: Refusal | null };

const REFUSAL_MESSAGES: Record<string, string> = {
  unauthorized: 'a valid credential is required',
  forbidden: 'this identity may not do this here',
  unavailable: 'the credential could not be checked; try again',
  rate_limited: 'too many requests for this key',
  bad_request: 'the request is ambiguous and was refused',
};

const KEY_REFUSALS: Record<string, Omit<Refusal, 'reason'>> = {
  unknown: { status: 401, error: 'unauthorized' },
  revoked: { status: 401, error: 'unauthorized' },
  disabled: { status: 401, error: 'unauthorized' },
  expired: { status: 401, error: 'unauthorized' },
  ip: { status: 403, error: 'forbidden' },
  scope: { status: 403, error: 'forbidden' },
  rate_limited: { status: 429, error: 'rate_limited' },
  quota_exhausted: { status: 429, error: 'rate_limited' },
  unavailable: { status: 503, error: 'unavailable' },
};

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

function refuse(status: number, error: string, reason: string, headers?: Record<string, string>): Refusal {
  return { status, error, reason, ...(headers ? { headers } : {}) };
}

const CHALLENGE = { 'www-authenticate': 'Bearer realm="warden-gateway"' };

/** An identity (or a client address) with as many exchanges in flight on an upstream as its route allows. */
const CONCURRENCY_REFUSAL: Refusal = { ...refuse(429, 'rate_limited', 'concurrency', { 'retry-after': '1' }), message: 'too many requests in flight for this identity; retry when one has finished' };
/** A request body that arrived below the route's rate floor, answered if nothing else was yet. */
const BODY_TOO_SLOW: Refusal = { ...refuse(408, 'request_timeout', 'body_too_slow'), message: 'the request body arrived too slowly' };

/** The Host a route is matched by: lower case, without port, and without the trailing dot of a fully qualified name (`admin.internal.` is `admin.internal` to DNS, so it must be to the policy too). */
function hostOf(req: ClientRequest): string {
  const host = (req.headers.host ?? '').toLowerCase();
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function routeFor(routes: readonly RouteConfig[], host: string, path: string): RouteConfig | null {
  for (const route of routes) {
    if (route.host && ('exact' in route.host ? host !== route.host.exact : !host.endsWith(route.host.suffix))) continue;
    const p = route.pathPrefix;
    if (p === '/' || path === p || path.startsWith(`${p}/`)) return route;
  }
  return null;
}

function rulesFor(route: RouteConfig, endpoint: Endpoint, method: string): AllowRule[] {
  return route.allow.filter((r) => (r.endpoints.has(endpoint.name) || r.classes.has(endpoint.class)) && (!r.methods || r.methods.has(method)));
}

/** The credential on a request, of the kinds the route accepts: an API key, a bearer JWT, or a client certificate. */
function presented(req: ClientRequest, accepts: ReadonlySet<CredentialKind>, keyPrefix: string): { kind: CredentialKind; token: string } | null {
  const header = req.headers['x-api-key'];
  const apiKey = typeof header === 'string' ? header.trim() : undefined;
  const auth = req.headers.authorization;
  const bearer = auth && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  if (accepts.has('key')) {
    if (apiKey) return { kind: 'key', token: apiKey };
    if (bearer && parseKey(bearer)?.prefix === keyPrefix) return { kind: 'key', token: bearer };
  }
  if (accepts.has('jwt') && bearer && bearer.split('.').length === 3) return { kind: 'jwt', token: bearer };
  if (accepts.has('mtls') && (req.socket as TLSSocket).encrypted && (req.socket as TLSSocket).authorized) return { kind: 'mtls', token: '' };
  // A bearer of a kind this route does not take is still an attempt: answer it as a bad credential.
  if (bearer || apiKey) return { kind: accepts.has('key') ? 'key' : 'jwt', token: bearer ?? apiKey! };
  return null;
}

function keyIdentity(v: Verification): Identity {
  return { kind: 'key', subject: v.keyId!, keyId: v.keyId!, scopes: v.scopes ?? [], ...(v.owner ? { owner: v.owner } : {}) };
}

function denied(decision: Decision, refusal: Refusal): Decision {
  decision.refusal = refusal;
  return decision;
}

function keyRequest(clientIp: string, rule: AllowRule | null): VerifyRequest {
  return rule ? { ip: clientIp, scopes: rule.scopes } : { ip: clientIp };
}

/** The decision once the key store has answered for a key. */
function keyVerdict(decision: Decision, v: Verification, rules: readonly AllowRule[]): Decision {
  if (v.keyId) decision.identity = keyIdentity(v);
  if (!v.valid) {
    const r = KEY_REFUSALS[v.reason ?? 'unknown']!;
    return denied(decision, refuse(r.status, r.error, v.reason === 'scope' ? 'scope' : `key_${v.reason}`, r.status === 401 ? CHALLENGE : undefined));
  }
  if (!rules.length) return denied(decision, refuse(403, 'forbidden', 'not_allowed'));
  return decision;
}

/**
 * Why an upgrade that passed every other check is still refused: only WebSocket, and only on an endpoint
 * the profile marks as one. Any other protocol (h2c, a custom one) would turn the connection into a tunnel
 * whose later requests the gateway never sees.
 */
function upgradeRefusal(req: ClientRequest, endpoint: Endpoint | null, up: UpstreamRequest): Refusal | null {
  if ((req.headers.upgrade ?? '').trim().toLowerCase() !== 'websocket') return refuse(400, 'bad_request', 'upgrade_not_websocket');
  if (!endpoint?.websocket) return refuse(403, 'forbidden', 'upgrade_not_allowed');
  if (ownedConnectionOption(req, up.drop)) return refuse(400, 'bad_request', 'connection_names_owned_field');
  return null;
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
  private metricsServer: HttpServer | null = null;
  private readonly configPath: string | undefined;
  private watching = false;

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
    this.state = { config, oidc: new OidcVerifier(config.oidc), assertion: config.assertion ? new AssertionSigner(config.assertion) : null, dropHeaders: new WeakMap() };
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
      this.watching = true;
      watchFile(this.configPath, { interval: 250 }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) void this.reload();
      });
    }
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const engine = selectEngine(options.config.listen.engine, process.env, options.log ?? ((line) => process.emitWarning(line)));
    const ownsKeys = !options.keys;
    const c = options.config.keys;
    const keys =
      options.keys ??
      (await KeyStore.open({ ...(c.store ? { store: c.store } : {}), ...(c.maxStalenessMs ? { maxStalenessMs: c.maxStalenessMs } : {}), ...(c.prefix ? { prefix: c.prefix } : {}) }));
    const gateway = new Gateway(options, keys, ownsKeys, engine);
    try {
      await gateway.listen(options.serveMetrics ?? true);
    } catch (err) {
      await gateway.close();
      throw err;
    }
    return gateway;
  }

  get config(): GatewayConfig {
    return this.state.config;
  }

  /** The proxy's own address, e.g. `http://127.0.0.1:8480`. */
  get url(): string {
    const a = this.server!.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.state.config.listen.tls ? 'https' : 'http'}://${host}:${a.port}`;
  }

  get metricsUrl(): string | null {
    if (!this.metricsServer) return null;
    const a = this.metricsServer.address() as AddressInfo;
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`;
  }

  private async listen(serveMetrics: boolean): Promise<void> {
    const { listen } = this.state.config;
    const metrics = serveMetrics ? this.state.config.metrics : null;
    const server = this.engine.listen(
      { request: (req, res) => void this.handle(req, res), upgrade: (req, socket, head) => void this.handleUpgrade(req, socket, head) },
      listen.tls ? { cert: listen.tls.cert, key: listen.tls.key, ...(listen.tls.clientCa ? { ca: listen.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}) } : undefined,
    );
    this.server = server;
    await listenOn(server.server, listen.port, listen.host, 'requests');
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
    const restartNeeded = (['listen', 'keys', 'metrics', 'accessLog'] as const).filter((k) => !same(prev.config[k], next[k]));
    this.state = {
      config: { ...next, listen: prev.config.listen, keys: prev.config.keys, metrics: prev.config.metrics, accessLog: prev.config.accessLog },
      // Keep caches (JWKS, verified tokens, signing keys) when their section did not change.
      oidc: same(prev.config.oidc, next.oidc) ? prev.oidc : new OidcVerifier(next.oidc),
      assertion: same(prev.config.assertion, next.assertion) ? prev.assertion : next.assertion ? new AssertionSigner(next.assertion) : null,
      dropHeaders: new WeakMap(),
    };
    this.metrics.reloads++;
    this.log(`gateway: config reloaded (${next.routes.length} routes)${restartNeeded.length ? `; restart to apply ${restartNeeded.join(', ')}` : ''}`);
    return { ok: true, restartNeeded };
  }

  /**
   * Authenticates and authorizes a request against one state; pure decision, no I/O to the upstream.
   * Synchronous when the key cache can answer, which is nearly always: no promise on the hot path.
   */
  private decide(state: RequestState, req: ClientRequest, path: string, query: string, clientIp: string): Decision | Refusal | Promise<Decision> {
    const route = routeFor(state.config.routes, hostOf(req), path);
    if (!route) return refuse(403, 'forbidden', 'no_route');
    const stripped = route.stripPrefix && route.pathPrefix !== '/' ? path.slice(route.pathPrefix.length) || '/' : path;
    const dropped = dropParams(query, route.profile.credentialParams);
    const target = dropped ? `${stripped}?${dropped}` : stripped;
    const decision: Decision = { route, endpoint: null, identity: null, target, refusal: null };
    const method = req.method;
    const match = matchEndpoint(route.profile, method, stripped);
    if (!match) return denied(decision, refuse(403, 'forbidden', 'not_in_profile'));
    if ('wrongMethod' in match) return denied(decision, refuse(405, 'forbidden', 'method_not_allowed'));
    const endpoint = (decision.endpoint = match.endpoint);
    if (route.public.has(endpoint.name) || route.public.has(endpoint.class)) return decision;

    const credential = presented(req, route.credentials, this.keys.prefix);
    if (!credential) return denied(decision, refuse(401, 'unauthorized', 'no_credential', CHALLENGE));
    const rules = rulesFor(route, endpoint, method);
    if (credential.kind === 'key') {
      // The key store checks each candidate rule's scopes, so a rate limit or quota is charged once, for the request it lets through.
      let verification: Verification | undefined;
      for (const rule of rules.length ? rules : [null]) {
        verification = this.keys.verifyCached(credential.token, keyRequest(clientIp, rule));
        // A cache miss or a spent quota lease: the store decides, from the first rule again (a scope refusal charged nothing).
        if (verification === undefined) return this.decideByStore(decision, credential.token, rules, clientIp);
        if (verification.reason !== 'scope') break;
      }
      return keyVerdict(decision, verification!, rules);
    }
    return this.decideByToken(state, req, decision, credential, rules);
  }

  private async decideByStore(decision: Decision, token: string, rules: AllowRule[], clientIp: string): Promise<Decision> {
    let verification: Verification | null = null;
    for (const rule of rules.length ? rules : [null]) {
      const request = keyRequest(clientIp, rule);
      verification = this.keys.verifyCached(token, request) ?? (await this.keys.verify(token, request));
      if (verification.reason !== 'scope') break;
    }
    return keyVerdict(decision, verification!, rules);
  }

  /** A JWT or a client certificate: its identity must hold the scopes of one of the rules. */
  private async decideByToken(state: RequestState, req: ClientRequest, decision: Decision, credential: { kind: CredentialKind; token: string }, rules: AllowRule[]): Promise<Decision> {
    let identity: Identity | null;
    if (credential.kind === 'jwt') {
      if (state.oidc.size === 0) return denied(decision, refuse(401, 'unauthorized', 'jwt_not_accepted', CHALLENGE));
      const outcome = await state.oidc.verify(credential.token);
      if (!outcome.ok) return denied(decision, outcome.reason === 'unavailable' ? refuse(503, 'unavailable', 'jwks_unavailable') : refuse(401, 'unauthorized', `jwt_${outcome.reason}`, CHALLENGE));
      identity = outcome.identity;
    } else {
      identity = certificateIdentity(req.socket as TLSSocket, state.config.mtls);
      if (!identity) return denied(decision, refuse(401, 'unauthorized', 'certificate_identity', CHALLENGE));
    }
    decision.identity = identity;
    if (!rules.some((r) => scopesAllow(identity.scopes, r.scopes))) return denied(decision, refuse(403, 'forbidden', rules.length ? 'scope' : 'not_allowed'));
    return decision;
  }

  private upstreamRequest(state: RequestState, d: Decision, clientIp: string, secure: boolean): UpstreamRequest {
    const route = d.route;
    let drop = state.dropHeaders.get(route);
    if (!drop) {
      // Whatever the gateway sets is never also taken from the client: a second copy could be the one the upstream reads.
      drop = headersNotForwarded(route, [...route.identityHeaders.map(([h]) => h), ...route.upstream.inject.map(([h]) => h), ...(state.assertion ? [state.assertion.header] : [])]);
      state.dropHeaders.set(route, drop);
    }
    const set: Array<[string, string]> = [...route.upstream.inject];
    if (d.identity) {
      for (const [header, field] of route.identityHeaders) {
        const value = identityValue(d.identity, field);
        if (value !== undefined) set.push([header, value]);
      }
      if (route.assertion && state.assertion) set.push([state.assertion.header, state.assertion.sign(d.identity, route.name)]);
    }
    return { route, target: d.target, set, drop, clientIp, secure };
  }

  /**
   * Forwards within the route's limits: a place among the exchanges its identity (or client address) has in flight
   * on the upstream, or 429; and a floor under the rate its body arrives at, or the exchange is abandoned (its
   * upstream connection closed, never back in the pool) and the client, if nothing was answered yet, gets 408. The
   * place is held until the body has arrived too, since an upstream that answers early still reads the rest.
   */
  private async forwardWithinLimits(d: Decision, up: UpstreamRequest, req: ClientRequest, res: ClientResponse, clientIp: string): Promise<{ status: number; bytes: number; reason: string | undefined }> {
    const route = d.route;
    const pool = this.pools.for(route.upstream);
    const party = limitedParty(d.identity, clientIp);
    if (!this.inFlight.acquire(pool, party, route.limits.inFlightPerIdentity)) {
      this.sendJson(res, 429, this.refusalBody(CONCURRENCY_REFUSAL, route.name), CONCURRENCY_REFUSAL.headers);
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
      this.sendJson(res, BODY_TOO_SLOW.status, this.refusalBody(BODY_TOO_SLOW, route.name));
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

  private refusalBody(r: Refusal, route: string | null): Record<string, unknown> {
    return { error: r.error, reason: r.reason, message: r.message ?? REFUSAL_MESSAGES[r.error] ?? r.error, ...(route ? { route } : {}) };
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
      if (isAmbiguousPath(path)) {
        const r = refuse(400, 'bad_request', 'ambiguous_path');
        this.sendJson(res, (status = r.status), this.refusalBody(r, null));
        reason = r.reason;
        return;
      }
      const decided = this.decide(state, req, path, query, clientIp);
      const d = decided instanceof Promise ? await decided : decided;
      if (!('target' in d)) {
        this.sendJson(res, (status = d.status), this.refusalBody(d, null), d.headers);
        reason = d.reason;
        return;
      }
      routeName = d.route.name;
      endpointName = d.endpoint?.name ?? null;
      identity = d.identity;
      if (d.refusal) {
        this.sendJson(res, (status = d.refusal.status), this.refusalBody(d.refusal, routeName), d.refusal.headers);
        reason = d.refusal.reason;
        return;
      }
      const up = this.upstreamRequest(state, d, clientIp, Boolean(state.config.listen.tls));
      const owned = ownedConnectionOption(req, up.drop);
      if (owned) {
        const r = refuse(400, 'bad_request', 'connection_names_owned_field');
        res.closeConnection();
        this.sendJson(res, (status = r.status), this.refusalBody(r, routeName));
        reason = r.reason;
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
      const body = JSON.stringify(this.refusalBody(r, route));
      const extra = Object.entries(r.headers ?? {})
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      closeUpgrade(socket, `HTTP/1.1 ${r.status} ${r.error}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`);
      status = r.status;
      reason = r.reason;
    };
    try {
      if (isAmbiguousPath(path)) reject(refuse(400, 'bad_request', 'ambiguous_path'), null);
      else {
        d = await this.decide(state, req, path, q < 0 ? '' : rawTarget.slice(q + 1), clientIp);
        if (!('target' in d)) reject(d, null);
        else if (d.refusal) reject(d.refusal, d.route.name);
        else {
          const up = this.upstreamRequest(state, d, clientIp, Boolean(state.config.listen.tls));
          const refusal = upgradeRefusal(req, d.endpoint, up);
          if (refusal) return reject(refusal, d.route.name);
          const outcome = await forwardUpgrade(req, socket, head, up);
          status = outcome.status;
          bytes = outcome.bytes;
          reason = outcome.error;
        }
      }
    } catch (err) {
      reason = 'internal_error';
      this.log(`gateway: internal error: ${(err as Error).message}`);
      socket.destroy();
    } finally {
      const decided = d && 'target' in d ? d : null;
      this.recordExchange({ started, route: decided?.route.name ?? null, endpoint: decided?.endpoint?.name ?? null, identity: decided?.identity ?? null, method: req.method, target: rawTarget, status, bytes, reason, clientIp });
    }
  }

  /** An exchange is over: its metrics, and its access-log line (the identity's key id, never a key; the query scrubbed). */
  private recordExchange(e: { started: bigint; route: string | null; endpoint: string | null; identity: Identity | null; method: string; target: string; status: number; bytes: number; reason: string | undefined; clientIp: string }): void {
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
    if (this.watching && this.configPath) unwatchFile(this.configPath);
    const metricsServer = this.metricsServer;
    const closing = [this.server?.close(), metricsServer?.listening && new Promise<void>((resolve) => metricsServer.close(() => resolve()))];
    metricsServer?.closeAllConnections();
    await Promise.all(closing);
    this.pools.destroy();
    this.accessLog.close();
    if (this.ownedLogStream) await new Promise<void>((resolve) => this.ownedLogStream!.end(() => resolve()));
    if (this.ownsKeys) await this.keys.close();
  }
}
