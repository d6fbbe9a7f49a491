/**
 * The gateway's policy, the one place a request is judged: its path, route, profile endpoint and method, the
 * credential the route accepts, and an allow rule whose scopes that identity holds. Two front doors ask it:
 * the proxy (gateway.ts), for the request it is about to forward, and the authorization server (authz/), for
 * the request another proxy (nginx, Caddy, Traefik, Envoy) reports. Neither decides anything of its own.
 */
import type { TLSSocket } from 'node:tls';
import { parseKey, scopesAllow, type KeyStore, type Verification, type VerifyRequest } from '../keys/index.js';
import type { AssertionSigner } from './assertion.js';
import type { CredentialKind, Identity } from './auth/identity.js';
import { certificateIdentity } from './auth/mtls.js';
import type { OidcVerifier } from './auth/oidc.js';
import { identityValue, type AllowRule, type GatewayConfig, type RouteConfig } from './config.js';
import { isAmbiguousPath, matchEndpoint, type Endpoint } from './profiles.js';
import { dropParams } from './proxy.js';

/** What a decision reads; a reload replaces it whole, and a request keeps the one it started with. */
export interface PolicyState {
  config: GatewayConfig;
  oidc: OidcVerifier;
  assertion: AssertionSigner | null;
}

/** The request being judged, as the client sent it to the gateway or as the proxy in front reports it. */
export interface PolicyRequest {
  method: string;
  /** The Host header as sent. */
  host: string | undefined;
  /** The path as sent, before any decoding. */
  path: string;
  /** The query as sent, without its `?`. */
  query: string;
  apiKey: string | undefined;
  authorization: string | undefined;
  clientIp: string;
  /** The client's TLS connection when the gateway terminates it; null when it does not (no client certificate reaches Warden then). */
  tls: TLSSocket | null;
  /** Recorded when a canary key is used, never part of a decision. */
  userAgent?: string | undefined;
  /** Which front door asked: `gateway` or `authz`. */
  via: string;
}

export interface Refusal {
  status: number;
  error: string;
  reason: string;
  headers?: Record<string, string>;
  /** Instead of the error's usual message. */
  message?: string;
}

export type Decision = { route: RouteConfig; endpoint: Endpoint | null; identity: Identity | null; target: string; refusal: Refusal | null };

const REFUSAL_MESSAGES: Record<string, string> = {
  unauthorized: 'a valid credential is required',
  forbidden: 'this identity may not do this here',
  unavailable: 'the credential could not be checked; try again',
  rate_limited: 'too many requests for this key',
  bad_request: 'the request is ambiguous and was refused',
};

export const KEY_REFUSALS: Record<string, Omit<Refusal, 'reason'>> = {
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

export function refuse(status: number, error: string, reason: string, headers?: Record<string, string>): Refusal {
  return { status, error, reason, ...(headers ? { headers } : {}) };
}

export const CHALLENGE = { 'www-authenticate': 'Bearer realm="warden-gateway"' };

/** Every refusal's JSON body: `{"error", "reason", "message", "route"}`. */
export function refusalBody(r: Refusal, route: string | null): Record<string, unknown> {
  return { error: r.error, reason: r.reason, message: r.message ?? REFUSAL_MESSAGES[r.error] ?? r.error, ...(route ? { route } : {}) };
}

/** The Host a route is matched by: lower case, without port, and without the trailing dot of a fully qualified name (`admin.internal.` is `admin.internal` to DNS, so it must be to the policy too). */
function hostName(header: string | undefined): string {
  const host = (header ?? '').toLowerCase();
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
function presented(req: PolicyRequest, accepts: ReadonlySet<CredentialKind>, keyPrefix: string): { kind: CredentialKind; token: string } | null {
  const apiKey = req.apiKey?.trim();
  const auth = req.authorization;
  const bearer = auth && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
  if (accepts.has('key')) {
    if (apiKey) return { kind: 'key', token: apiKey };
    if (bearer && parseKey(bearer)?.prefix === keyPrefix) return { kind: 'key', token: bearer };
  }
  if (accepts.has('jwt') && bearer && bearer.split('.').length === 3) return { kind: 'jwt', token: bearer };
  if (accepts.has('mtls') && req.tls?.encrypted && req.tls.authorized) return { kind: 'mtls', token: '' };
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

function keyRequest(req: PolicyRequest, rule: AllowRule | null): VerifyRequest {
  // User agent, route and front door are read only when a canary is used: the route is put together then,
  // not on every request.
  const request: VerifyRequest = {
    ip: req.clientIp,
    via: req.via,
    userAgent: req.userAgent,
    get route() {
      return `${req.method} ${req.host ?? ''}${req.path}`;
    },
  };
  if (rule) request.scopes = rule.scopes;
  return request;
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
 * Authenticates and authorizes a request; no I/O but the key store's and the OIDC verifier's. A bare Refusal
 * is one made before any route was found. Synchronous when the key cache can answer, which is nearly always:
 * no promise on the hot path. `warden/keys`' cache is the decision cache (docs/gateway.md, "Decision cache and
 * revocation"): the rest of a decision is a pure function of the config.
 */
export function decide(state: PolicyState, keys: KeyStore, req: PolicyRequest): Decision | Refusal | Promise<Decision> {
  const path = req.path;
  if (isAmbiguousPath(path)) return refuse(400, 'bad_request', 'ambiguous_path');
  const route = routeFor(state.config.routes, hostName(req.host), path);
  if (!route) return refuse(403, 'forbidden', 'no_route');
  const stripped = route.stripPrefix && route.pathPrefix !== '/' ? path.slice(route.pathPrefix.length) || '/' : path;
  const dropped = dropParams(req.query, route.profile.credentialParams);
  const target = dropped ? `${stripped}?${dropped}` : stripped;
  const decision: Decision = { route, endpoint: null, identity: null, target, refusal: null };
  const method = req.method;
  const match = matchEndpoint(route.profile, method, stripped);
  if (!match) return denied(decision, refuse(403, 'forbidden', 'not_in_profile'));
  if ('wrongMethod' in match) return denied(decision, refuse(405, 'forbidden', 'method_not_allowed'));
  const endpoint = (decision.endpoint = match.endpoint);
  if (route.public.has(endpoint.name) || route.public.has(endpoint.class)) return decision;

  const credential = presented(req, route.credentials, keys.prefix);
  if (!credential) return denied(decision, refuse(401, 'unauthorized', 'no_credential', CHALLENGE));
  const rules = rulesFor(route, endpoint, method);
  if (credential.kind === 'key') {
    // The key store checks each candidate rule's scopes, so a rate limit or quota is charged once, for the request it lets through.
    let verification: Verification | undefined;
    for (const rule of rules.length ? rules : [null]) {
      verification = keys.verifyCached(credential.token, keyRequest(req, rule));
      // A cache miss or a spent quota lease: the store decides, from the first rule again (a scope refusal charged nothing).
      if (verification === undefined) return decideByStore(keys, decision, credential.token, rules, req);
      if (verification.reason !== 'scope') break;
    }
    return keyVerdict(decision, verification!, rules);
  }
  return decideByToken(state, req, decision, credential, rules);
}

async function decideByStore(keys: KeyStore, decision: Decision, token: string, rules: AllowRule[], req: PolicyRequest): Promise<Decision> {
  let verification: Verification | null = null;
  for (const rule of rules.length ? rules : [null]) {
    const request = keyRequest(req, rule);
    verification = keys.verifyCached(token, request) ?? (await keys.verify(token, request));
    if (verification.reason !== 'scope') break;
  }
  return keyVerdict(decision, verification!, rules);
}

/** A JWT or a client certificate: its identity must hold the scopes of one of the rules. */
async function decideByToken(
  state: PolicyState,
  req: PolicyRequest,
  decision: Decision,
  credential: { kind: CredentialKind; token: string },
  rules: AllowRule[],
): Promise<Decision> {
  let identity: Identity | null;
  if (credential.kind === 'jwt') {
    if (state.oidc.size === 0) return denied(decision, refuse(401, 'unauthorized', 'jwt_not_accepted', CHALLENGE));
    const outcome = await state.oidc.verify(credential.token);
    if (!outcome.ok)
      return denied(
        decision,
        outcome.reason === 'unavailable' ? refuse(503, 'unavailable', 'jwks_unavailable') : refuse(401, 'unauthorized', `jwt_${outcome.reason}`, CHALLENGE),
      );
    identity = outcome.identity;
  } else {
    identity = certificateIdentity(req.tls!, state.config.mtls);
    if (!identity) return denied(decision, refuse(401, 'unauthorized', 'certificate_identity', CHALLENGE));
  }
  decision.identity = identity;
  if (!rules.some((r) => scopesAllow(identity.scopes, r.scopes))) return denied(decision, refuse(403, 'forbidden', rules.length ? 'scope' : 'not_allowed'));
  return decision;
}

/**
 * Why an upgrade that passed every other check is still refused: only WebSocket, and only on an endpoint
 * the profile marks as one. Any other protocol (h2c, a custom one) would turn the connection into a tunnel
 * whose later requests the gateway never sees.
 */
export function upgradeRefusal(upgrade: string | undefined, endpoint: Endpoint | null): Refusal | null {
  if ((upgrade ?? '').trim().toLowerCase() !== 'websocket') return refuse(400, 'bad_request', 'upgrade_not_websocket');
  if (!endpoint?.websocket) return refuse(403, 'forbidden', 'upgrade_not_allowed');
  return null;
}

/** The identity the upstream is told about, for a request the policy let through: the route's identity headers and its signed assertion. */
export function identityFields(state: PolicyState, d: Decision): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  if (!d.identity) return fields;
  for (const [header, field] of d.route.identityHeaders) {
    const value = identityValue(d.identity, field);
    if (value !== undefined) fields.push([header, value]);
  }
  if (d.route.assertion && state.assertion) fields.push([state.assertion.header, state.assertion.sign(d.identity, d.route.name)]);
  return fields;
}
