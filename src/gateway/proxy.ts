/**
 * The forwarding half: request headers cleaned of credentials and hop-by-hop fields, bodies streamed
 * both ways without buffering (server-sent events reach the client chunk by chunk), WebSocket and
 * other upgrades spliced, keep-alive pools per upstream, and upstream timeouts. Requests go through
 * undici's Pool with a callback handler: Node's http client costs about a third of the gateway's
 * throughput per request (docs/gateway.md, Speed); upgrades, which are rare, keep node:http.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { RouteConfig } from './config.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/**
 * Request headers the gateway never forwards: credentials it accepts itself (the upstream never sees
 * them), what it sets itself, and `expect` (Node's server has already answered 100-continue).
 */
const NOT_FORWARDED = new Set(['authorization', 'x-api-key', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'expect']);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Keep-alive pools, one per upstream origin (and its limits), shared by routes and kept across reloads. */
export class UpstreamPools {
  private readonly byKey = new Map<string, Pool>();
  /** The same pools by config object, so the request path does not rebuild the key. */
  private readonly byUpstream = new WeakMap<RouteConfig['upstream'], Pool>();

  for(upstream: RouteConfig['upstream']): Pool {
    let pool = this.byUpstream.get(upstream);
    if (pool) return pool;
    const key = `${upstream.url.origin} ${upstream.maxSockets} ${upstream.timeoutMs} ${upstream.ca ? upstream.ca.toString('base64') : ''}`;
    pool = this.byKey.get(key);
    if (!pool) {
      pool = new Pool(upstream.url.origin, {
        connections: upstream.maxSockets,
        connectTimeout: upstream.timeoutMs,
        ...(upstream.ca ? { connect: { ca: upstream.ca } } : {}),
      });
      this.byKey.set(key, pool);
    }
    this.byUpstream.set(upstream, pool);
    return pool;
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.byKey.values()].map((pool) => pool.destroy()));
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
  /** Header names a client must not supply (those in `set`, and identity headers even when this identity has no value for them), lower case. */
  drop: ReadonlySet<string>;
  clientIp: string;
  secure: boolean;
}

/** Request headers for the upstream as a flat name/value list (duplicates kept as sent). */
export function upstreamHeaders(req: IncomingMessage, up: UpstreamRequest, upgrade: boolean): string[] {
  const connection = req.headers.connection;
  const connectionTokens = connection ? connection.toLowerCase().split(',').map((t) => t.trim()) : null;
  const credentialHeaders = up.route.profile.credentialHeaders;
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || NOT_FORWARDED.has(name) || up.drop.has(name) || credentialHeaders.includes(name) || connectionTokens?.includes(name)) continue;
    out.push(name, raw[i + 1]!);
  }
  if (upgrade) {
    out.push('connection', 'upgrade');
    if (req.headers.upgrade) out.push('upgrade', req.headers.upgrade);
  }
  // The gateway is the edge: what clients claim about earlier hops is not passed on.
  out.push('host', up.route.upstream.url.host, 'x-forwarded-for', up.clientIp, 'x-forwarded-proto', up.secure ? 'https' : 'http');
  if (req.headers.host) out.push('x-forwarded-host', req.headers.host);
  for (const [name, value] of up.set) out.push(name, value);
  return out;
}

/** The upstream's response headers for the client, without hop-by-hop fields; whether the body has a length. */
function responseHeaders(raw: Buffer[]): { headers: string[]; hasLength: boolean } {
  let headers: string[] = [];
  let connectionTokens: string[] | null = null;
  let hasLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'connection') connectionTokens = value.toLowerCase().split(',').map((t) => t.trim());
    if (HOP_BY_HOP.has(name)) continue;
    if (name === 'content-length') hasLength = true;
    headers.push(name, value);
  }
  if (connectionTokens) {
    const tokens = connectionTokens;
    headers = headers.filter((_, i, all) => !tokens.includes(all[i - (i % 2)]!));
    hasLength &&= !tokens.includes('content-length');
  }
  return { headers, hasLength };
}

export type ForwardOutcome = { status: number; bytes: number; error?: 'upstream_timeout' | 'upstream_unreachable' | 'upstream_aborted' };

const CLIENT_GONE = new Error('client_gone');

/** Streams one exchange; resolves once the response is done or has failed. Never throws. */
export function forward(pools: UpstreamPools, req: IncomingMessage, res: ServerResponse, up: UpstreamRequest, sendError: (status: number, error: string) => void): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const upstream = up.route.upstream;
    let status = 0;
    let bytes = 0;
    let settled = false;
    let abort: ((err?: Error) => void) | null = null;
    let resume: (() => void) | null = null;
    const done = (outcome: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      res.off('close', onClientClose);
      resolve(outcome);
    };
    // A client that goes away takes its upstream exchange with it.
    const onClientClose = () => {
      if (res.writableFinished) return;
      // Settled first: aborting calls onError at once, and this is not the upstream's failure.
      // 499 (nginx's "client closed request") when nothing was answered yet.
      done({ status: res.headersSent ? res.statusCode : 499, bytes, error: 'upstream_aborted' });
      abort?.(CLIENT_GONE);
    };
    res.on('close', onClientClose);
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const handler: Dispatcher.DispatchHandlers = {
      onConnect(abortExchange) {
        abort = abortExchange;
      },
      onHeaders(statusCode, raw, resumeReading, statusText) {
        if (statusCode < 200) return true; // 1xx: informational, the final answer follows
        status = statusCode;
        resume = resumeReading;
        const { headers, hasLength } = responseHeaders(raw);
        res.writeHead(statusCode, statusText, headers);
        // A streamed body (no length: server-sent events, chunked output) starts now, before its first chunk;
        // a body of known length goes out with its headers in one write.
        if (!hasLength) res.flushHeaders();
        return true;
      },
      onData(chunk) {
        bytes += chunk.length;
        const more = res.write(chunk);
        if (!more) res.once('drain', resume!);
        return more;
      },
      onComplete() {
        res.end();
        done({ status, bytes });
      },
      onError(err) {
        if (settled) return;
        const code = (err as { code?: string }).code ?? '';
        const error = TIMEOUT_CODES.has(code) ? 'upstream_timeout' : status ? 'upstream_aborted' : 'upstream_unreachable';
        if (!res.headersSent) {
          const s = error === 'upstream_timeout' ? 504 : 502;
          sendError(s, error);
          done({ status: s, bytes: 0, error });
        } else {
          res.destroy();
          done({ status: res.statusCode, bytes, error });
        }
      },
    };
    // undici's type names the common methods; it sends any valid token, and the profile has already vetted this one.
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
    pools.for(upstream).dispatch(
      { path: up.target, method, headers: upstreamHeaders(req, up, false), body: hasBody ? req : null, headersTimeout: upstream.timeoutMs, bodyTimeout: upstream.idleTimeoutMs },
      handler,
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

/** Splices an upgraded connection (WebSocket) to the upstream after the same checks as any request. */
export function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, up: UpstreamRequest): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const upstreamReq = openUpgrade(up, req.method ?? 'GET', upstreamHeaders(req, up, true));
    const timer = setTimeout(() => upstreamReq.destroy(new Error('upstream_timeout')), up.route.upstream.timeoutMs);
    const statusLine = (status: number, message: string | undefined, headers: IncomingHttpHeaders) =>
      `HTTP/1.1 ${status} ${message ?? ''}\r\n${Object.entries(headers)
        .flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : v === undefined ? [] : [`${k}: ${v}`]))
        .join('\r\n')}\r\n\r\n`;
    upstreamReq.on('upgrade', (upRes, upSocket, upHead) => {
      clearTimeout(timer);
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
      upRes.on('end', () => resolve({ status: upRes.statusCode ?? 502, bytes: 0 }));
    });
    upstreamReq.on('error', (err) => {
      clearTimeout(timer);
      const error = err.message === 'upstream_timeout' ? 'upstream_timeout' : 'upstream_unreachable';
      const status = error === 'upstream_timeout' ? 504 : 502;
      const body = JSON.stringify({ error });
      socket.end(`HTTP/1.1 ${status} ${error}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      resolve({ status, bytes: 0, error });
    });
    upstreamReq.end();
  });
}
