/**
 * The daemon's HTTP face. Everything but the login page and its stylesheet needs a Warden key:
 * the API and /metrics as a bearer token, the dashboard through a session cookie made at login
 * (HttpOnly, Secure, SameSite=Strict) with a per-session CSRF token on every form. A session holds
 * only its key's id; each request checks the key as it is then, from the request's address.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Inventory } from '../config/index.js';
import { HttpError, jsonObject, parseJson, readBody, sendJson as sendJsonBody } from '../http-json.js';
import { hostPort, isLoopbackHost, isLoopbackHostHeader } from '../host-port.js';
import { RouteTable, type Route } from '../http-routes.js';
import { listenAt } from '../listen-address.js';
import { scopesAllow, type KeyStore, type Verification } from '../keys/index.js';
import { renderFinding, renderLogin, renderOverview, renderRuns, DASHBOARD_CSS, type PageContext } from './dashboard.js';
import { SEVERITY_ORDER, type FindingState, type RunRecord, type ServeHistory } from './history.js';
import { AuthFailures, type AuthWay } from './auth-failures.js';
import { renderMetrics } from './metrics.js';
import { SERVE_OPENAPI } from './openapi.js';

export interface HttpServerOptions {
  listen: { host: string; port: number };
  history: ServeHistory;
  keys: KeyStore;
  inventories: readonly Inventory[];
  trigger(inventory: string, kind?: string): Promise<RunRecord | undefined>;
  redact(text: string): string;
  log(line: string): void;
  sessionTtlMs?: number;
}

export interface HttpServer {
  url: string;
  close(): Promise<void>;
}

export const SESSION_COOKIE = 'warden_session';
const LOGIN_COOKIE = 'warden_login';
const CLEAR_SESSION = `${SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0`;
const MAX_BODY = 64 * 1024;
const MAX_LOGGED_PATH = 4096;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};
const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonBody(res, status, body, { ...SECURITY_HEADERS, ...headers });
}

function sendHtml(res: ServerResponse, status: number, html: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-security-policy': PAGE_CSP,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    ...headers,
  });
  res.end(html);
}

function redirect(res: ServerResponse, to: string, headers: Record<string, string | string[]> = {}): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location: to, 'content-length': 0, ...headers });
  res.end();
}

/** A path segment decoded; called only once the caller is authenticated, and a malformed escape is the client's error. */
function pathSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'malformed percent-escape in the path');
  }
}

const clientAddress = (req: IncomingMessage) => req.socket.remoteAddress ?? '';

async function jsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  return jsonObject(parseJson(await readBody(req, MAX_BODY)));
}

const EXPIRY_UNITS: Record<string, number> = { h: 3_600_000, d: 86_400_000 };

/** An acknowledgement from an API body or a dashboard form; expiry as epoch ms or `12h`/`7d`/`never`. */
function parseAcknowledgement(body: Record<string, unknown>, now: number): { kind: 'acknowledge' | 'suppress'; reason: string; expiresAt: number | null } {
  const kind = body.kind;
  if (kind !== 'acknowledge' && kind !== 'suppress') throw new HttpError(400, 'bad_request', 'kind must be acknowledge or suppress');
  const reason = typeof body.reason === 'string' ? body.reason.trim() : '';
  if (!reason || reason.length > 500) throw new HttpError(400, 'bad_request', 'reason must be 1-500 characters');
  let expiresAt: number | null = null;
  if (typeof body.expiresAt === 'number') expiresAt = body.expiresAt;
  else if (typeof body.expiresIn === 'string' && body.expiresIn !== 'never') {
    const m = /^(\d{1,4})([hd])$/.exec(body.expiresIn);
    if (!m) throw new HttpError(400, 'bad_request', 'expiresIn must look like 12h or 30d, or be never');
    expiresAt = now + Number(m[1]) * EXPIRY_UNITS[m[2]!]!;
  } else if (body.expiresAt !== undefined && body.expiresAt !== null) throw new HttpError(400, 'bad_request', 'expiresAt must be epoch milliseconds or null');
  if (expiresAt !== null && expiresAt <= now) throw new HttpError(400, 'bad_request', 'the expiry is in the past');
  return { kind, reason, expiresAt };
}

/** What handlers share: the server's options and its authentication state. */
interface ServeHttp {
  options: HttpServerOptions;
  inventoryNames: string[];
  sessionTtlMs: number;
  authFailures: AuthFailures;
}

/** Refuses an address that spent its allowance of wrong keys (429) before its key is looked at. */
function checkFailureLimit(app: ServeHttp, req: IncomingMessage, way: AuthWay): void {
  const wait = app.authFailures.retryAfter(clientAddress(req));
  if (!wait) return;
  app.authFailures.fail(clientAddress(req), way, 'throttled', false);
  throw new HttpError(429, 'too_many_failures', 'too many failed authentications from this address; try again later', { 'retry-after': String(wait) });
}

/** A failed verification, counted; a wrong key spends the address's allowance, the key's own limits and our outages do not. */
function failed(app: ServeHttp, req: IncomingMessage, way: AuthWay, v: Verification): void {
  const reason = v.reason ?? 'unknown';
  app.authFailures.fail(clientAddress(req), way, reason, reason !== 'rate_limited' && reason !== 'quota_exhausted' && reason !== 'unavailable');
}

/** The id of the bearer key granting `scope`; refuses (401, 403, 429, 503) otherwise. */
async function bearer(app: ServeHttp, req: IncomingMessage, scope: string): Promise<string> {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) {
    app.authFailures.fail(clientAddress(req), 'bearer', 'missing', false);
    throw new HttpError(401, 'unauthenticated', 'send a Warden key as Authorization: Bearer');
  }
  checkFailureLimit(app, req, 'bearer');
  const v = await app.options.keys.verify(m[1]!, { scopes: [scope], ip: clientAddress(req), via: 'serve', route: `${req.method} ${req.url ?? ''}` });
  if (v.valid) return v.keyId!;
  failed(app, req, 'bearer', v);
  if (v.reason === 'scope' || v.reason === 'ip') throw new HttpError(403, 'forbidden', `this key lacks ${scope}`);
  if (v.reason === 'rate_limited' || v.reason === 'quota_exhausted') throw new HttpError(429, v.reason, 'slow down');
  if (v.reason === 'unavailable') throw new HttpError(503, 'unavailable', 'key store unavailable');
  throw new HttpError(401, 'unauthenticated', 'key not accepted');
}

interface Session {
  keyId: string;
  scopes: readonly string[];
  csrf: string;
  tokenHash: string;
}

/**
 * The session behind the cookie, checked against its key as the key is now and from this request's
 * address: 'none' without a session cookie, 'ended' when the cookie names no session or its key no
 * longer admits one (revoked, disabled, expired, or without serve:read; all its sessions end then).
 */
async function session(app: ServeHttp, req: IncomingMessage): Promise<Session | 'none' | 'ended'> {
  const { history, keys } = app.options;
  const token = cookies(req).get(SESSION_COOKIE);
  if (!token) return 'none';
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return 'ended';
  const tokenHash = sha256(token);
  const s = await history.session(tokenHash);
  if (!s) return 'ended';
  const v = await keys.verifyById(s.keyId, { scopes: ['serve:read'], ip: clientAddress(req) });
  if (v.valid) return { ...s, tokenHash, scopes: v.scopes ?? [] };
  // A cookie used from an address the key does not allow is refused, and leaves the session to its holder.
  if (v.reason === 'ip') throw new HttpError(403, 'forbidden', 'this key may not be used from this address');
  if (v.reason === 'rate_limited' || v.reason === 'quota_exhausted') throw new HttpError(429, v.reason, 'slow down');
  if (v.reason === 'unavailable') throw new HttpError(503, 'unavailable', 'key store unavailable');
  await history.endKeySessions(s.keyId);
  app.options.log(`dashboard sessions of key ${s.keyId} ended: ${v.reason}`);
  return 'ended';
}

/** The login form, with its CSRF token bound to a short-lived cookie so no one can log a browser into their session. */
function loginPage(req: IncomingMessage, res: ServerResponse, status: number, error: string | undefined, cookiesToSet: string[] = []): void {
  // Reused while valid, so a second tab (or the browser's favicon request landing here) does not void the first form.
  const existing = cookies(req).get(LOGIN_COOKIE);
  const loginCsrf = existing && /^[A-Za-z0-9_-]{43}$/.test(existing) ? existing : randomBytes(32).toString('base64url');
  sendHtml(res, status, renderLogin(loginCsrf, error), {
    'set-cookie': [...cookiesToSet, `${LOGIN_COOKIE}=${loginCsrf}; Path=/login; HttpOnly; Secure; SameSite=Strict; Max-Age=600`],
  });
}

function checkCsrf(form: URLSearchParams, expected: string, req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin && URL.canParse(origin) && new URL(origin).host !== req.headers.host) throw new HttpError(403, 'csrf', 'cross-origin request refused');
  if (!sameSecret(form.get('csrf') ?? '', expected)) throw new HttpError(403, 'csrf', 'the form is stale or forged; reload the page');
}

interface Call {
  app: ServeHttp;
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path segments as sent: decode with `pathSegment`, which is only ever called after authentication. */
  params: Record<string, string>;
}

/** An API call whose bearer key granted the route's scope. */
interface ApiCall extends Call {
  keyId: string;
}

/** The API and /metrics: each route names the scope its bearer key must grant. */
type ApiRoute = Route<'serve:read' | 'serve:admin' | 'metrics:read', (call: ApiCall) => Promise<void>>;

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'GET', path: '/openapi.json', auth: 'serve:read', handle: async ({ res }) => sendJson(res, 200, SERVE_OPENAPI) },
  {
    method: 'GET',
    path: '/metrics',
    auth: 'metrics:read',
    async handle({ app, res }) {
      const text = await renderMetrics(app.options.history, app.inventoryNames, app.authFailures);
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/inventories',
    auth: 'serve:read',
    async handle({ app, res }) {
      const out = [];
      for (const i of app.options.inventories) {
        const [last] = await app.options.history.listRuns({ inventory: i.name, limit: 1 });
        out.push({ name: i.name, targets: i.targets, ports: i.ports ?? null, tags: i.tags, schedule: i.schedule, lastRun: last ?? null });
      }
      sendJson(res, 200, { inventories: out });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/summary',
    auth: 'serve:read',
    handle: async ({ app, res }) =>
      sendJson(res, 200, { open: await app.options.history.openBySeverity(), series: await app.options.history.runSeries(Date.now() - 30 * 86_400_000) }),
  },
  {
    method: 'GET',
    path: '/api/v1/runs',
    auth: 'serve:read',
    async handle({ app, res, url }) {
      const inventory = url.searchParams.get('inventory') ?? undefined;
      sendJson(res, 200, {
        runs: await app.options.history.listRuns({ ...(inventory ? { inventory } : {}), limit: Number(url.searchParams.get('limit') ?? 50) || 50 }),
      });
    },
  },
  {
    method: 'POST',
    path: '/api/v1/runs',
    auth: 'serve:admin',
    async handle({ app, req, res }) {
      const body = await jsonBody(req);
      const name = typeof body.inventory === 'string' ? body.inventory : '';
      if (!app.inventoryNames.includes(name)) throw new HttpError(404, 'not_found', 'no such inventory');
      const run = await app.options.trigger(name, 'api');
      if (!run) throw new HttpError(409, 'conflict', 'a run of this inventory is in progress');
      sendJson(res, 202, run);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/runs/:id',
    auth: 'serve:read',
    async handle({ app, res, params }) {
      const run = await app.options.history.run(pathSegment(params.id!));
      if (!run) throw new HttpError(404, 'not_found', 'no such run');
      sendJson(res, 200, run);
    },
  },
  {
    method: 'GET',
    path: '/api/v1/findings',
    auth: 'serve:read',
    async handle({ app, res, url }) {
      const q = url.searchParams;
      const state = q.get('state');
      const severity = q.get('severity');
      if (state && state !== 'open' && state !== 'resolved') throw new HttpError(400, 'bad_request', 'state must be open or resolved');
      if (severity && !SEVERITY_ORDER.includes(severity as never)) throw new HttpError(400, 'bad_request', 'unknown severity');
      const findings = await app.options.history.listFindings({
        ...(state ? { state: state as FindingState } : {}),
        ...(severity ? { severity: severity as (typeof SEVERITY_ORDER)[number] } : {}),
        ...(q.get('inventory') ? { inventory: q.get('inventory')! } : {}),
        limit: Number(q.get('limit') ?? 100) || 100,
        offset: Number(q.get('offset') ?? 0) || 0,
      });
      sendJson(res, 200, { findings });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/findings/:inventory/:id',
    auth: 'serve:read',
    async handle({ app, res, params }) {
      const found = await app.options.history.finding(pathSegment(params.inventory!), pathSegment(params.id!));
      if (!found) throw new HttpError(404, 'not_found', 'no such finding');
      sendJson(res, 200, found);
    },
  },
  {
    method: 'PUT',
    path: '/api/v1/findings/:inventory/:id/acknowledgement',
    auth: 'serve:admin',
    async handle({ app, req, res, params, keyId }) {
      const inventory = pathSegment(params.inventory!);
      const id = pathSegment(params.id!);
      const ack = parseAcknowledgement(await jsonBody(req), Date.now());
      if (!(await app.options.history.acknowledge(inventory, id, { ...ack, createdBy: keyId }))) throw new HttpError(404, 'not_found', 'no such finding');
      sendJson(res, 200, (await app.options.history.finding(inventory, id))!.finding);
    },
  },
  {
    method: 'DELETE',
    path: '/api/v1/findings/:inventory/:id/acknowledgement',
    auth: 'serve:admin',
    async handle({ app, res, params, keyId }) {
      if (!(await app.options.history.unacknowledge(pathSegment(params.inventory!), pathSegment(params.id!), keyId)))
        throw new HttpError(404, 'not_found', 'no acknowledgement');
      res.writeHead(204, SECURITY_HEADERS);
      res.end();
    },
  },
];

/** A dashboard request, after its session (and for forms, its CSRF token) passed. */
interface PageCall extends Call {
  session: Session;
  ctx: PageContext;
  /** The posted form, for POST routes. */
  form: URLSearchParams;
}

/** The dashboard's public pages: the login form, the login itself (its own CSRF cookie and failure limit), the stylesheet. */
type PublicRoute = Route<'none', (call: Call) => Promise<void> | void>;

export const PUBLIC_PAGE_ROUTES: readonly PublicRoute[] = [
  {
    method: 'GET',
    path: '/assets/warden.css',
    auth: 'none',
    handle({ res }) {
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'cache-control': 'max-age=3600',
        'content-type': 'text/css; charset=utf-8',
        'content-length': Buffer.byteLength(DASHBOARD_CSS),
      });
      res.end(DASHBOARD_CSS);
    },
  },
  { method: 'GET', path: '/login', auth: 'none', handle: ({ req, res, url }) => loginPage(req, res, 200, url.searchParams.get('error') ?? undefined) },
  {
    method: 'POST',
    path: '/login',
    auth: 'none',
    async handle({ app, req, res }) {
      const form = new URLSearchParams((await readBody(req, MAX_BODY)).toString('utf8'));
      checkCsrf(form, cookies(req).get(LOGIN_COOKIE) ?? '\u0000', req);
      checkFailureLimit(app, req, 'login');
      const v = await app.options.keys.verify((form.get('key') ?? '').trim(), {
        scopes: ['serve:read'],
        ip: clientAddress(req),
        via: 'serve',
        route: 'POST /login',
      });
      if (!v.valid) {
        failed(app, req, 'login', v);
        return redirect(res, `/login?error=${v.reason === 'scope' ? 'scope' : 'key'}`);
      }
      const token = randomBytes(32).toString('base64url');
      await app.options.history.createSession(sha256(token), v.keyId!, randomBytes(32).toString('base64url'), Date.now() + app.sessionTtlMs);
      app.options.log(`dashboard login with key ${v.keyId}`);
      redirect(res, '/', {
        'set-cookie': [
          `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${Math.floor(app.sessionTtlMs / 1000)}`,
          `${LOGIN_COOKIE}=; Path=/login; Max-Age=0`,
        ],
      });
    },
  },
];

/**
 * Who may see a dashboard page: a session (`session`), a session posting a form with its CSRF token
 * (`session-form`), and one whose key also grants serve:admin (`session-admin`).
 */
type PageRoute = Route<'session' | 'session-form' | 'session-admin', (call: PageCall) => Promise<void>>;

export const DASHBOARD_ROUTES: readonly PageRoute[] = [
  {
    method: 'POST',
    path: '/logout',
    auth: 'session-form',
    async handle({ app, res, session: s }) {
      await app.options.history.endSession(s.tokenHash);
      redirect(res, '/login', { 'set-cookie': CLEAR_SESSION });
    },
  },
  {
    method: 'POST',
    path: '/runs',
    auth: 'session-admin',
    async handle({ app, res, form }) {
      const name = form.get('inventory') ?? '';
      if (!app.inventoryNames.includes(name)) throw new HttpError(404, 'not_found', 'no such inventory');
      await app.options.trigger(name, 'dashboard');
      redirect(res, '/runs');
    },
  },
  {
    method: 'POST',
    path: '/findings/:inventory/:id/:action',
    auth: 'session-admin',
    params: { action: /^(?:acknowledge|unacknowledge)$/ },
    async handle({ app, res, params, form, session: s }) {
      const inventory = pathSegment(params.inventory!);
      const id = pathSegment(params.id!);
      if (params.action === 'acknowledge') {
        const ack = parseAcknowledgement(Object.fromEntries(form), Date.now());
        if (!(await app.options.history.acknowledge(inventory, id, { ...ack, createdBy: s.keyId }))) throw new HttpError(404, 'not_found', 'no such finding');
      } else await app.options.history.unacknowledge(inventory, id, s.keyId);
      redirect(res, `/findings/${encodeURIComponent(inventory)}/${encodeURIComponent(id)}`);
    },
  },
  {
    method: 'GET',
    path: '/',
    auth: 'session',
    async handle({ app, res, url, ctx }) {
      const page = Math.max(0, Number(url.searchParams.get('page') ?? 0) || 0);
      sendHtml(res, 200, await renderOverview(app.options.history, ctx, page));
    },
  },
  { method: 'GET', path: '/runs', auth: 'session', handle: async ({ app, res, ctx }) => sendHtml(res, 200, await renderRuns(app.options.history, ctx)) },
  {
    method: 'GET',
    path: '/findings/:inventory/:id',
    auth: 'session',
    async handle({ app, res, params, ctx }) {
      const found = await app.options.history.finding(pathSegment(params.inventory!), pathSegment(params.id!));
      if (!found) throw new HttpError(404, 'not_found', 'no such finding');
      sendHtml(res, 200, renderFinding(found, ctx));
    },
  },
];

const API = new RouteTable(API_ROUTES);
const PUBLIC_PAGES = new RouteTable(PUBLIC_PAGE_ROUTES);
const DASHBOARD = new RouteTable(DASHBOARD_ROUTES);

async function api(call: Call): Promise<void> {
  const found = API.match(call.req.method ?? 'GET', call.url.pathname);
  if (found === undefined || found === 'method') throw new HttpError(404, 'not_found', 'no such endpoint');
  const keyId = await bearer(call.app, call.req, found.route.auth);
  await found.route.handle({ ...call, params: found.params, keyId });
}

/**
 * Every page but the public ones needs a session; every form its CSRF token; every form but logout
 * serve:admin. These run, in that order, before a route is looked for, so an unknown page or action
 * is only ever told apart after them.
 */
async function dashboard(call: Call): Promise<void> {
  const { app, req, res } = call;
  const method = req.method ?? 'GET';
  const open = PUBLIC_PAGES.match(method, call.url.pathname);
  if (open !== undefined && open !== 'method') return open.route.handle(call);
  const s = await session(app, req);
  if (s === 'none') {
    if (method !== 'GET') throw new HttpError(401, 'unauthenticated', 'log in first');
    return redirect(res, '/login');
  }
  if (s === 'ended') {
    if (method !== 'GET') throw new HttpError(401, 'unauthenticated', 'the session ended; log in again', { 'set-cookie': CLEAR_SESSION });
    return loginPage(req, res, 401, 'ended', [CLEAR_SESSION]);
  }
  const found = DASHBOARD.match(method, call.url.pathname);
  const hit = found === undefined || found === 'method' ? undefined : found;
  const ctx: PageContext = { csrf: s.csrf, canAdmin: scopesAllow(s.scopes, ['serve:admin']), inventories: app.inventoryNames, redact: app.options.redact };
  let form = new URLSearchParams();
  if (method === 'POST') {
    form = new URLSearchParams((await readBody(req, MAX_BODY)).toString('utf8'));
    checkCsrf(form, s.csrf, req);
    if (hit?.route.auth !== 'session-form' && !ctx.canAdmin) throw new HttpError(403, 'forbidden', 'this key lacks serve:admin');
    if (!hit) throw new HttpError(404, 'not_found', 'no such action');
  } else if (method !== 'GET') throw new HttpError(405, 'method_not_allowed', 'method not allowed');
  if (!hit) throw new HttpError(404, 'not_found', 'no such page');
  await hit.route.handle({ ...call, params: hit.params, session: s, ctx, form });
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const loopbackOnly = isLoopbackHost(options.listen.host);
  const app: ServeHttp = {
    options,
    inventoryNames: options.inventories.map((i) => i.name),
    sessionTtlMs: options.sessionTtlMs ?? 12 * 3_600_000,
    authFailures: new AuthFailures(),
  };

  const server = createServer((req, res) => {
    void (async () => {
      // Bound to loopback, answer only loopback names: a DNS-rebound page cannot reach the API by another name.
      if (loopbackOnly && !isLoopbackHostHeader(req.headers.host ?? '')) throw new HttpError(421, 'misdirected', 'unexpected Host');
      if (!URL.canParse(req.url ?? '/', 'http://warden.invalid')) throw new HttpError(400, 'bad_request', 'unparsable request target');
      const url = new URL(req.url ?? '/', 'http://warden.invalid');
      const call: Call = { app, req, res, url, params: {} };
      if (url.pathname.startsWith('/api/') || url.pathname === '/metrics' || url.pathname === '/openapi.json') await api(call);
      else await dashboard(call);
    })().catch((err: unknown) => {
      const e = err instanceof HttpError ? err : new HttpError(500, 'internal', 'internal error');
      // The path can hold a key (a client that put one there, or a guess): the line goes through the redactor, query dropped.
      if (!(err instanceof HttpError))
        options.log(
          options.redact(`request ${req.method} ${(req.url ?? '').split('?')[0]!.slice(0, MAX_LOGGED_PATH)} failed: ${(err as Error)?.message ?? String(err)}`),
        );
      if (res.headersSent) return void res.destroy();
      const headers: Record<string, string> = { ...(e.status === 401 ? { 'www-authenticate': 'Bearer realm="warden"' } : {}), ...e.headers };
      sendJson(res, e.status, { error: e.code, message: e.message }, headers);
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await listenAt(server, options.listen);
  const address = server.address() as AddressInfo;
  return {
    url: `http://${hostPort(address.address, address.port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
