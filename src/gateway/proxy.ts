/**
 * The forwarding half: request headers cleaned of credentials and hop-by-hop fields, bodies streamed
 * both ways without buffering (server-sent events reach the client chunk by chunk), WebSocket and
 * other upgrades spliced, keep-alive pools per upstream, and upstream timeouts. Requests go through
 * the engine's upstream client (upstream.ts, or node-upstream.ts on node:http); upgrades, which are rare, use node:http.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { RouteConfig } from './config.js';
import type { HttpEngine, UpstreamClient } from './engine.js';
import { canonicalFieldName, connectionTokens, HOP_BY_HOP, UNSAFE_FIELD_VALUE } from './http-syntax.js';
import type { ClientRequest, ClientResponse } from './server.js';
import type { UpstreamFailure } from './upstream.js';

/**
 * Request headers the gateway never forwards: credentials it accepts itself (the upstream never sees
 * them), what it sets itself (Host, the framing it computes, the forwarding fields), `expect` (the gateway's
 * server has already answered 100-continue), and fields that upstreams or the proxies in front of them
 * trust for the client's address, the request's real path or method, or the user's identity: a client
 * that could set them would choose what the upstream believes about it.
 */
const NOT_FORWARDED = new Set([
  'authorization',
  'x-api-key',
  'host',
  'content-length',
  'forwarded',
  'expect',
  // client address
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-remote-addr',
  'x-remote-ip',
  'x-originating-ip',
  // the request's real host, path, scheme or method
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-original-method',
  'x-original-host',
  'x-host',
  'x-scheme',
  'x-url-scheme',
  'front-end-https',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  // identity set by authenticating proxies (oauth2-proxy, Grafana's auth proxy default, Apache/Shibboleth)
  'x-remote-user',
  'remote-user',
  'x-webauth-user',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-auth-request-groups',
  'x-auth-request-preferred-username',
  'x-auth-request-access-token',
]);
/** Field-name prefixes the same holds for: the gateway's own namespace, and every forwarding field of the de facto family. */
const NOT_FORWARDED_PREFIXES = ['x-warden-', 'x-forwarded-'];

/** Whether a client's field is one a route never forwards, in any spelling (`X_Warden_Subject` is `x-warden-subject` to a WSGI upstream). */
function neverForwarded(name: string, drop: ReadonlySet<string>): boolean {
  const canonical = canonicalFieldName(name);
  return drop.has(canonical) || NOT_FORWARDED_PREFIXES.some((p) => canonical.startsWith(p));
}

/** Keep-alive pools, one per upstream origin (with its connection limit and CA), shared by routes and kept across reloads; timeouts are per request. */
export class UpstreamPools {
  private readonly byKey = new Map<string, UpstreamClient>();
  /** The same pools by config object, so the request path does not rebuild the key. */
  private readonly byUpstream = new WeakMap<RouteConfig['upstream'], UpstreamClient>();

  constructor(private readonly engine: HttpEngine) {}

  for(upstream: RouteConfig['upstream']): UpstreamClient {
    let pool = this.byUpstream.get(upstream);
    if (pool) return pool;
    const key = `${upstream.url.origin} ${upstream.maxSockets} ${upstream.ca ? upstream.ca.toString('base64') : ''}`;
    pool = this.byKey.get(key);
    if (!pool) {
      const url = upstream.url;
      const tls = url.protocol === 'https:';
      pool = this.engine.upstream({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port) || (tls ? 443 : 80),
        tls,
        ...(upstream.ca ? { ca: upstream.ca } : {}),
        maxSockets: upstream.maxSockets,
      });
      this.byKey.set(key, pool);
    }
    this.byUpstream.set(upstream, pool);
    return pool;
  }

  destroy(): void {
    for (const pool of this.byKey.values()) pool.destroy();
    this.byKey.clear();
  }
}

/** Removes named query parameters, leaving every other byte of the query as sent. */
export function dropParams(query: string, names: readonly string[]): string {
  if (!query || names.length === 0) return query;
  const kept = query.split('&').filter((pair) => {
    const raw = pair.split('=', 1)[0]!;
    let name = raw;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      // undecodable: compare as sent
    }
    return !names.includes(name);
  });
  return kept.join('&');
}

export interface UpstreamRequest {
  route: RouteConfig;
  /** Path and query as the upstream gets them. */
  target: string;
  /** Extra headers (identity, assertion, injected credentials), lower-case names. */
  set: ReadonlyArray<[string, string]>;
  /** Header names never taken from the client (`headersNotForwarded`), lower case. */
  drop: ReadonlySet<string>;
  clientIp: string;
  secure: boolean;
}

/**
 * Every request header name a route never forwards from a client: hop-by-hop fields, the credentials
 * and edge headers of NOT_FORWARDED, the upstream's own credential headers, and what the gateway sets itself.
 */
export function headersNotForwarded(route: RouteConfig, setByGateway: readonly string[]): ReadonlySet<string> {
  return new Set([...HOP_BY_HOP, ...NOT_FORWARDED, ...route.profile.credentialHeaders, ...setByGateway]);
}

/** Connection options that exist to be listed in Connection (RFC 9110 §7.6.1, §7.8, §10.1.4): naming them removes nothing the gateway decided. */
const CONNECTION_OPTIONS = new Set(['close', 'keep-alive', 'upgrade', 'te', 'trailer', '']);

/**
 * The first field the client's Connection header lists that the gateway computes, sets or checks (the
 * framing, and every field the route never forwards), or null. Such a request asks the next hop to remove
 * a field whose meaning the gateway already decided: listing Content-Length made the body a second,
 * unchecked request upstream. It is refused, not repaired.
 */
export function ownedConnectionOption(req: ClientRequest, drop: ReadonlySet<string>): string | null {
  const connection = req.headers.connection;
  if (connection === undefined) return null;
  for (const token of connectionTokens(connection)) {
    if (CONNECTION_OPTIONS.has(token)) continue;
    if (neverForwarded(token, drop)) return token;
  }
  return null;
}

/**
 * Request headers for the upstream as a flat name/value list (duplicates kept as sent). The framing is the
 * gateway's own: the client's Content-Length is replaced by the length its parser framed the body with,
 * and chunked coding is added by `requestHead`, so no field the client lists in Connection can change it.
 */
export function upstreamHeaders(req: ClientRequest, up: UpstreamRequest, upgrade: boolean): string[] {
  const connection = req.headers.connection;
  const listed = connection ? connectionTokens(connection).map(canonicalFieldName) : null;
  const fields = req.fields;
  const out: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (neverForwarded(name, up.drop) || listed?.includes(canonicalFieldName(name))) continue;
    out.push(name, fields[i + 1]!);
  }
  const length = req.headers['content-length'];
  if (length !== undefined && req.headers['transfer-encoding'] === undefined) out.push('content-length', length);
  // Only WebSocket upgrades reach here (the gateway refuses every other protocol).
  if (upgrade) out.push('connection', 'upgrade', 'upgrade', 'websocket');
  // The gateway is the edge: what clients claim about earlier hops is not passed on.
  out.push('host', up.route.upstream.url.host, 'x-forwarded-for', up.clientIp, 'x-forwarded-proto', up.secure ? 'https' : 'http');
  if (req.headers.host) out.push('x-forwarded-host', req.headers.host);
  for (const [name, value] of up.set) out.push(name, value);
  return out;
}

/** Client headers and the target passed the parser of the gateway's server; what the gateway adds (identity, injected, signed) is checked here. */
function assertSendable(up: UpstreamRequest): void {
  for (const [name, value] of up.set) if (UNSAFE_FIELD_VALUE.test(value)) throw new Error(`header ${name} holds a character HTTP/1.1 cannot carry`);
}

export type ForwardOutcome = { status: number; bytes: number; error?: UpstreamFailure };

/** Streams one exchange; resolves once the response is done or has failed. Throws only for a header it cannot send. */
export function forward(
  pools: UpstreamPools,
  req: ClientRequest,
  res: ClientResponse,
  up: UpstreamRequest,
  sendError: (status: number, error: string) => void,
): Promise<ForwardOutcome> {
  const upstream = up.route.upstream;
  const method = req.method;
  const chunked = req.headers['transfer-encoding'] !== undefined;
  assertSendable(up);
  const fields = upstreamHeaders(req, up, false);
  return new Promise((resolve) => {
    let status = 0;
    let bytes = 0;
    let settled = false;
    const done = (outcome: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      res.onAbort = null;
      resolve(outcome);
    };
    // A client that goes away takes its upstream exchange with it.
    // 499 (nginx's "client closed request") when nothing was answered yet.
    // Set first, so that a failure inside request() finds it to clear; it fires only on a later event, once `exchange` is set.
    res.onAbort = () => {
      done({ status: res.headersSent ? res.statusCode : 499, bytes, error: 'upstream_aborted' });
      exchange.abandon();
    };
    const exchange = pools.for(upstream).request(
      { method, target: up.target, fields, body: req.body, chunked, headersTimeoutMs: upstream.timeoutMs, bodyTimeoutMs: upstream.idleTimeoutMs },
      {
        headers(statusCode, statusText, headers, hasLength) {
          status = statusCode;
          res.writeHead(statusCode, statusText, headers, hasLength);
          // A streamed body (no length: server-sent events, chunked output) starts now, before its first chunk;
          // a body of known length goes out with its headers in one write.
          if (!hasLength) res.flush();
        },
        body(chunk) {
          bytes += chunk.length;
          const more = res.write(chunk);
          if (!more) res.onDrain(() => exchange.resume());
          return more;
        },
        complete() {
          res.end();
          done({ status, bytes });
        },
        fail(error) {
          if (settled) return;
          if (!res.headersSent) {
            const s = error === 'upstream_timeout' ? 504 : 502;
            sendError(s, error);
            done({ status: s, bytes: 0, error });
          } else {
            res.destroy();
            done({ status: res.statusCode, bytes, error });
          }
        },
      },
    );
  });
}

function openUpgrade(up: UpstreamRequest, method: string, headers: string[]) {
  const upstream = up.route.upstream;
  const url = upstream.url;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  // An upgraded connection is never reused, so it takes a connection of its own rather than one from the pool.
  return request({
    agent: false,
    ...(upstream.ca ? { ca: upstream.ca } : {}),
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method,
    path: up.target,
    headers,
  });
}

/**
 * Answers an upgrade that will not be spliced and closes its connection once the answer is out. Not just
 * `end()`: node:http hands upgrade sockets over half-open and unread, so the client's FIN would never be seen
 * and the connection (and a server waiting to close) would stay open.
 */
export function closeUpgrade(socket: Duplex, answer: string): void {
  socket.end(answer, () => socket.destroy());
}

/** Splices an upgraded connection (WebSocket) to the upstream after the same checks as any request. */
export function forwardUpgrade(req: ClientRequest, socket: Duplex, head: Buffer, up: UpstreamRequest): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const upstreamReq = openUpgrade(up, req.method, upstreamHeaders(req, up, true));
    const timer = setTimeout(() => upstreamReq.destroy(new Error('upstream_timeout')), up.route.upstream.timeoutMs);
    const statusLine = (status: number, message: string | undefined, headers: IncomingHttpHeaders) =>
      `HTTP/1.1 ${status} ${message ?? ''}\r\n${Object.entries(headers)
        .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : v === undefined ? [] : [`${k}: ${v}`]))
        .join('\r\n')}\r\n\r\n`;
    upstreamReq.on('upgrade', (upRes, upSocket, upHead) => {
      clearTimeout(timer);
      // The client asked for WebSocket and nothing else; a switch to anything else is not spliced.
      if ((upRes.headers.upgrade ?? '').trim().toLowerCase() !== 'websocket') {
        upSocket.destroy();
        const body = JSON.stringify({ error: 'upstream_protocol' });
        closeUpgrade(
          socket,
          `HTTP/1.1 502 Bad Gateway\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
        );
        resolve({ status: 502, bytes: 0, error: 'upstream_aborted' });
        return;
      }
      socket.write(statusLine(101, upRes.statusMessage ?? 'Switching Protocols', upRes.headers));
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      let bytes = 0;
      upSocket.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      upSocket.pipe(socket).pipe(upSocket);
      const end = () => {
        upSocket.destroy();
        socket.destroy();
        resolve({ status: 101, bytes });
      };
      upSocket.once('close', end);
      socket.once('close', end);
      upSocket.on('error', end);
      socket.on('error', end);
    });
    upstreamReq.on('response', (upRes) => {
      // The upstream declined the upgrade: relay its answer and close.
      clearTimeout(timer);
      socket.write(statusLine(upRes.statusCode ?? 502, upRes.statusMessage, { ...upRes.headers, connection: 'close' }));
      upRes.pipe(socket);
      socket.once('finish', () => socket.destroy());
      upRes.on('end', () => resolve({ status: upRes.statusCode ?? 502, bytes: 0 }));
    });
    upstreamReq.on('error', (err) => {
      clearTimeout(timer);
      const error = err.message === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_unreachable';
      const status = error === 'upstream_timeout' ? 504 : 502;
      const body = JSON.stringify({ error });
      closeUpgrade(
        socket,
        `HTTP/1.1 ${status} ${error}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      resolve({ status, bytes: 0, error });
    });
    upstreamReq.end();
  });
}
