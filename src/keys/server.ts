import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WardenError } from '../errors.js';
import { HttpError, jsonObject, parseJson, readBody, sendJson } from '../http-json.js';
import { RouteTable, type Route } from '../http-routes.js';
import { StoreUnavailableError } from '../store/index.js';
import type { KeyStore } from './key-store.js';
import { verifyGithubSignature, type ReporterPublicKey } from './leak-signature.js';
import { parseQuota, parseRateLimit } from './limits.js';
import { KEY_OPENAPI } from './openapi.js';
import { scopesAllow } from './scopes.js';
import type { ActionContext, CreateKeyOptions, LeakPolicy, LeakReport } from './types.js';

export interface KeyServerOptions {
  keys: KeyStore;
  /** Keys GitHub signs secret-scanning reports with; without them the GitHub endpoint refuses all. */
  githubPublicKeys?: readonly ReporterPublicKey[];
  maxBodyBytes?: number;
}

const STATUS_FOR: Record<string, number> = {
  unknown: 401,
  revoked: 401,
  disabled: 401,
  expired: 401,
  scope: 403,
  ip: 403,
  rate_limited: 429,
  quota_exhausted: 429,
  unavailable: 503,
};

function strings(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new HttpError(400, 'bad_request', `${field} must be an array of strings`);
  return value as string[];
}

/** The optional limits of a create request, in the CLI's notation (`100/min`, `10000/month`). */
function limitsFrom(body: Record<string, unknown>): Pick<CreateKeyOptions, 'rateLimit' | 'quota' | 'expiresAt'> {
  const out: Pick<CreateKeyOptions, 'rateLimit' | 'quota' | 'expiresAt'> = {};
  if (body.rate !== undefined) {
    const rate = typeof body.rate === 'string' ? parseRateLimit(body.rate) : null;
    if (!rate) throw new HttpError(400, 'bad_request', 'rate must look like 100/min');
    out.rateLimit = rate;
  }
  if (body.quota !== undefined) {
    const quota = typeof body.quota === 'string' ? parseQuota(body.quota) : null;
    if (!quota) throw new HttpError(400, 'bad_request', 'quota must look like 10000/month or 50000');
    out.quota = quota;
  }
  if (body.expiresAt !== undefined) {
    if (typeof body.expiresAt !== 'number' && body.expiresAt !== null) throw new HttpError(400, 'bad_request', 'expiresAt must be epoch milliseconds or null');
    out.expiresAt = body.expiresAt;
  }
  return out;
}

/**
 * Who may call a route: anyone (`none`), GitHub by its ECDSA signature over the body, or a Warden key
 * granting one of the scopes listed.
 */
export type KeyRouteAuth = 'none' | 'github-signature' | { anyOf: readonly string[] };

/** One request, after its route's `auth` passed. */
interface KeyCall {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  keys: KeyStore;
  /** The caller: `key:<id>` or the reporter, and its address. */
  ctx: ActionContext;
  /** The key that authenticated, or null for routes that take none. */
  keyId: string | null;
  /** The body, read whole within the size limit (already read for a signed route). */
  body(): Promise<Buffer>;
}

type KeyRoute = Route<KeyRouteAuth, (call: KeyCall) => Promise<void> | void>;

const ADMIN = { anyOf: ['admin:keys'] } as const;
const KEY_ID = /^key_[A-Za-z0-9]{16}$/;

const jsonBody = async (call: KeyCall) => jsonObject(parseJson(await call.body()));

/** The keys API, in the order routes are tried. */
export const KEY_ROUTES: readonly KeyRoute[] = [
  { method: 'GET', path: '/openapi.json', auth: 'none', handle: ({ res }) => sendJson(res, 200, KEY_OPENAPI) },
  {
    method: 'POST',
    path: '/v1/leaks/github',
    auth: 'github-signature',
    async handle(call) {
      const body = parseJson(await call.body());
      if (!Array.isArray(body)) throw new HttpError(400, 'bad_request', 'expected a JSON array of {token, type, url, source}');
      const reports: LeakReport[] = body.map((item) => {
        const o = jsonObject(item);
        if (typeof o.token !== 'string') throw new HttpError(400, 'bad_request', 'each match needs a token');
        return { token: o.token, url: typeof o.url === 'string' ? o.url : '', source: typeof o.source === 'string' ? o.source : 'unknown' };
      });
      const outcomes = await call.keys.reportLeaks(reports, 'github', call.ctx);
      const types = body.map((item) => (typeof (item as { type?: unknown }).type === 'string' ? (item as { type: string }).type : 'warden_api_key'));
      sendJson(
        call.res,
        200,
        outcomes.map((o, i) => ({ token_hash: o.tokenHash, token_type: types[i], label: o.label })),
      );
    },
  },
  {
    method: 'POST',
    path: '/v1/leaks',
    auth: { anyOf: ['leaks:report'] },
    async handle(call) {
      const body = await jsonBody(call);
      if (!Array.isArray(body.tokens)) throw new HttpError(400, 'bad_request', 'expected {"tokens": [{"token", "url", "source"}]}');
      const reports = body.tokens.map((item): LeakReport => {
        const o = jsonObject(item);
        if (typeof o.token !== 'string' || typeof o.url !== 'string') throw new HttpError(400, 'bad_request', 'each token needs token and url strings');
        return { token: o.token, url: o.url, ...(typeof o.source === 'string' ? { source: o.source } : {}) };
      });
      const outcomes = await call.keys.reportLeaks(reports, `reporter:${call.keyId}`, call.ctx);
      sendJson(call.res, 200, { results: outcomes.map((o) => ({ tokenHash: o.tokenHash, label: o.label })) });
    },
  },
  {
    method: 'POST',
    path: '/v1/keys/verify',
    auth: { anyOf: ['keys:verify', 'admin:keys'] },
    async handle(call) {
      const body = await jsonBody(call);
      if (typeof body.key !== 'string') throw new HttpError(400, 'bad_request', 'key must be a string');
      const scopes = strings(body.scopes, 'scopes');
      sendJson(
        call.res,
        200,
        await call.keys.verify(body.key, {
          ...(scopes ? { scopes } : {}),
          ...(typeof body.ip === 'string' ? { ip: body.ip } : {}),
          ...(typeof body.tenant === 'string' ? { tenant: body.tenant } : {}),
          // The service asking answers for its client; where the question came from is recorded if it is a canary.
          via: `keys-api verify from ${call.req.socket.remoteAddress ?? 'unknown'}`,
          ...userAgentOf(call.req),
        }),
      );
    },
  },
  {
    method: 'GET',
    path: '/v1/keys',
    auth: ADMIN,
    async handle({ res, url, keys }) {
      const owner = url.searchParams.get('owner');
      sendJson(res, 200, { keys: await keys.list(owner ? { owner } : {}) });
    },
  },
  {
    method: 'POST',
    path: '/v1/keys',
    auth: ADMIN,
    async handle(call) {
      const body = await jsonBody(call);
      if (typeof body.owner !== 'string' || typeof body.name !== 'string') throw new HttpError(400, 'bad_request', 'owner and name are required strings');
      const opts: CreateKeyOptions = { owner: body.owner, name: body.name, scopes: strings(body.scopes, 'scopes') ?? [], ...limitsFrom(body) };
      const ips = strings(body.allowedIps, 'allowedIps');
      if (ips) opts.allowedIps = ips;
      if (body.env === 'live' || body.env === 'test') opts.env = body.env;
      if (typeof body.leakPolicy === 'string') opts.leakPolicy = body.leakPolicy as LeakPolicy;
      const made = await call.keys.create(opts, call.ctx);
      sendJson(call.res, 201, { key: made.key, ...made.info });
    },
  },
  {
    method: 'GET',
    path: '/v1/keys/:id',
    auth: ADMIN,
    params: { id: KEY_ID },
    handle: async ({ res, keys, params }) => sendJson(res, 200, await keys.show(params.id!)),
  },
  {
    method: 'POST',
    path: '/v1/keys/:id/revoke',
    auth: ADMIN,
    params: { id: KEY_ID },
    async handle(call) {
      const body = await jsonBody(call);
      sendJson(call.res, 200, await call.keys.revoke(call.params.id!, typeof body.reason === 'string' ? body.reason : 'revoked over the API', call.ctx));
    },
  },
  {
    method: 'POST',
    path: '/v1/keys/:id/rotate',
    auth: ADMIN,
    params: { id: KEY_ID },
    async handle(call) {
      const body = await jsonBody(call);
      const overlapMs = body.overlapMs === undefined ? 0 : body.overlapMs;
      if (typeof overlapMs !== 'number') throw new HttpError(400, 'bad_request', 'overlapMs must be a number');
      const rotated = await call.keys.rotate(call.params.id!, { overlapMs }, call.ctx);
      sendJson(call.res, 200, { key: rotated.key, ...rotated.info, previous: rotated.previous });
    },
  },
];

const ROUTES = new RouteTable(KEY_ROUTES);

/**
 * A small HTTP API over a KeyStore (routes: `KEY_ROUTES`). Every route but the OpenAPI document needs
 * a Warden key: admin routes `admin:keys`, verification `keys:verify` (or `admin:keys`), the neutral
 * leak report `leaks:report`; GitHub's leak report is authenticated by its ECDSA signature instead.
 */
function userAgentOf(req: IncomingMessage): { userAgent?: string } {
  const ua = req.headers['user-agent'];
  return ua ? { userAgent: ua } : {};
}

export function createKeyServer(options: KeyServerOptions): Server {
  const { keys } = options;
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;

  async function authenticate(req: IncomingMessage, anyOf: readonly string[]): Promise<{ keyId: string; ctx: ActionContext }> {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const ip = req.socket.remoteAddress ?? '';
    const check = await keys.verify(token, { ip, via: 'keys-api', route: `${req.method} ${req.url ?? ''}`, ...userAgentOf(req) });
    if (!check.valid) throw new HttpError(STATUS_FOR[check.reason ?? 'unknown'] ?? 401, check.reason ?? 'unknown', `key not accepted: ${check.reason}`);
    if (!anyOf.some((scope) => scopesAllow(check.scopes ?? [], [scope]))) throw new HttpError(403, 'scope', `key lacks one of: ${anyOf.join(', ')}`);
    return { keyId: check.keyId!, ctx: { actor: `key:${check.keyId}`, source: ip } };
  }

  /** The route's `auth`, proved before its handler runs. */
  async function admit(req: IncomingMessage, auth: KeyRouteAuth): Promise<Pick<KeyCall, 'ctx' | 'keyId'> & { raw?: Buffer }> {
    if (auth === 'none') return { ctx: {}, keyId: null };
    if (auth === 'github-signature') {
      const raw = await readBody(req, maxBody);
      const ok = verifyGithubSignature(
        raw,
        req.headers['github-public-key-identifier'] as string | undefined,
        req.headers['github-public-key-signature'] as string | undefined,
        options.githubPublicKeys ?? [],
      );
      if (!ok) throw new HttpError(401, 'bad_signature', 'signature does not verify against any configured GitHub public key');
      return { ctx: { actor: 'reporter:github', source: req.socket.remoteAddress ?? '' }, keyId: null, raw };
    }
    return authenticate(req, auth.anyOf);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const found = ROUTES.match(method, path);
    if (found === undefined || found === 'method') {
      // Anything under /v1/keys is an admin's to explore: no route is confirmed or denied to anyone else.
      if (!path.startsWith('/v1/keys')) throw new HttpError(404, 'not_found', 'no such route');
      await authenticate(req, ADMIN.anyOf);
      // A key's own routes answer 405 to another method; the collection and verify paths answer 404.
      if (found === 'method' && path !== '/v1/keys' && path !== '/v1/keys/verify') throw new HttpError(405, 'method_not_allowed', `${method} not allowed here`);
      throw new HttpError(404, 'not_found', 'no such route');
    }
    const admitted = await admit(req, found.route.auth);
    const body = () => (admitted.raw ? Promise.resolve(admitted.raw) : readBody(req, maxBody));
    await found.route.handle({ req, res, url, params: found.params, keys, ctx: admitted.ctx, keyId: admitted.keyId, body });
  }

  return createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof HttpError) return sendJson(res, err.status, { error: { code: err.code, message: err.message } });
      // The caller learns the store is down, not where it is.
      if (err instanceof StoreUnavailableError) return sendJson(res, 503, { error: { code: 'unavailable', message: 'the key store is unavailable' } });
      if (err instanceof WardenError) return sendJson(res, err.code === 'KEY_NOT_FOUND' ? 404 : 400, { error: { code: err.code, message: err.message } });
      // Unexpected: say so without details that could carry request data.
      sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
    });
  });
}
