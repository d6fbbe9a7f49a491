/**
 * The forwarding half: request headers cleaned of credentials and hop-by-hop fields, bodies streamed
 * both ways without buffering (server-sent events reach the client chunk by chunk), WebSocket and
 * other upgrades spliced, keep-alive agents per upstream, and upstream timeouts.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { RouteConfig } from './config.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Credentials the gateway itself accepts; the upstream never sees them. */
const GATEWAY_CREDENTIALS = ['authorization', 'x-api-key'];

export type Agents = Map<string, HttpAgent>;

function agentKey(upstream: RouteConfig['upstream']): string {
  return `${upstream.url.origin} ${upstream.maxSockets} ${upstream.ca ? upstream.ca.length : 0}`;
}

/** The keep-alive pool for an upstream, shared by routes to the same origin and kept across reloads. */
export function agentFor(agents: Agents, upstream: RouteConfig['upstream']): HttpAgent {
  const key = agentKey(upstream);
  let agent = agents.get(key);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: upstream.maxSockets, maxFreeSockets: Math.min(upstream.maxSockets, 64), scheduling: 'lifo' as const };
    agent = upstream.url.protocol === 'https:' ? new HttpsAgent({ ...options, ...(upstream.ca ? { ca: upstream.ca } : {}) }) : new HttpAgent(options);
    agents.set(key, agent);
  }
  return agent;
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
  /** Header names a client must not supply (the identity headers), lower case. */
  drop: ReadonlySet<string>;
  clientIp: string;
  secure: boolean;
}

export function upstreamHeaders(incoming: IncomingHttpHeaders, up: UpstreamRequest, upgrade: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const connectionTokens = String(incoming.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  const credentialHeaders = up.route.profile.credentialHeaders;
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || connectionTokens.includes(name) || GATEWAY_CREDENTIALS.includes(name) || credentialHeaders.includes(name) || up.drop.has(name)) continue;
    if (name === 'host' || name === 'x-forwarded-for' || name === 'x-forwarded-proto' || name === 'x-forwarded-host' || name === 'forwarded') continue;
    out[name] = value;
  }
  if (upgrade) {
    out.connection = 'upgrade';
    if (incoming.upgrade) out.upgrade = incoming.upgrade;
  }
  out.host = up.route.upstream.url.host;
  // The gateway is the edge: what clients claim about earlier hops is not passed on.
  out['x-forwarded-for'] = up.clientIp;
  out['x-forwarded-proto'] = up.secure ? 'https' : 'http';
  if (incoming.host) out['x-forwarded-host'] = incoming.host;
  for (const [name, value] of up.set) out[name] = value;
  return out;
}

function responseHeaders(upstream: IncomingMessage): OutgoingHttpHeaders {
  const connectionTokens = String(upstream.headers.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((t) => t.trim());
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || connectionTokens.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

export type ForwardOutcome = { status: number; bytes: number; error?: 'upstream_timeout' | 'upstream_unreachable' | 'upstream_aborted' };

function openUpstream(agents: Agents, up: UpstreamRequest, method: string, headers: OutgoingHttpHeaders) {
  const url = up.route.upstream.url;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return request({
    agent: agentFor(agents, up.route.upstream),
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || (url.protocol === 'https:' ? 443 : 80),
    method,
    path: up.target,
    headers,
  });
}

/** Streams one exchange; resolves once the response is done or has failed. Never throws. */
export function forward(agents: Agents, req: IncomingMessage, res: ServerResponse, up: UpstreamRequest, sendError: (status: number, error: string) => void): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const { timeoutMs, idleTimeoutMs } = up.route.upstream;
    const upstreamReq = openUpstream(agents, up, req.method ?? 'GET', upstreamHeaders(req.headers, up, false));
    let bytes = 0;
    let settled = false;
    const done = (outcome: ForwardOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(headersTimer);
      resolve(outcome);
    };
    const headersTimer = setTimeout(() => upstreamReq.destroy(new Error('upstream_timeout')), timeoutMs);
    upstreamReq.setTimeout(idleTimeoutMs, () => upstreamReq.destroy(new Error('upstream_timeout')));
    upstreamReq.on('response', (upstreamRes) => {
      clearTimeout(headersTimer);
      const headers = responseHeaders(upstreamRes);
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, headers);
      // A streamed body (no length: server-sent events, chunked output) starts now, before its first chunk;
      // a body of known length goes out with its headers in one write.
      if (headers['content-length'] === undefined) res.flushHeaders();
      upstreamRes.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      upstreamRes.pipe(res);
      upstreamRes.on('end', () => done({ status: upstreamRes.statusCode ?? 502, bytes }));
      upstreamRes.on('error', () => {
        res.destroy();
        done({ status: upstreamRes.statusCode ?? 502, bytes, error: 'upstream_aborted' });
      });
    });
    upstreamReq.on('error', (err) => {
      const error = err.message === 'upstream_timeout' ? 'upstream_timeout' : res.headersSent ? 'upstream_aborted' : 'upstream_unreachable';
      if (!res.headersSent) {
        const status = error === 'upstream_timeout' ? 504 : 502;
        sendError(status, error);
        done({ status, bytes: 0, error });
      } else {
        res.destroy();
        done({ status: res.statusCode, bytes, error });
      }
    });
    // A client that goes away takes its upstream exchange with it.
    res.on('close', () => {
      if (!res.writableFinished) upstreamReq.destroy();
      done({ status: res.statusCode, bytes, ...(res.writableFinished ? {} : { error: 'upstream_aborted' as const }) });
    });
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) upstreamReq.end();
    else req.pipe(upstreamReq);
  });
}

/** Splices an upgraded connection (WebSocket) to the upstream after the same checks as any request. */
export function forwardUpgrade(agents: Agents, req: IncomingMessage, socket: Duplex, head: Buffer, up: UpstreamRequest): Promise<ForwardOutcome> {
  return new Promise((resolve) => {
    const upstreamReq = openUpstream(agents, up, req.method ?? 'GET', upstreamHeaders(req.headers, up, true));
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
