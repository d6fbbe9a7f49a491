import { request as plainRequest } from 'node:http';
import { request as tlsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { failure, looksLikeTls, type TransportFailure } from './result.js';
import { noteStall } from './stalls.js';
import { DEFAULT_MAX_READ_BYTES } from './tcp.js';
import { isHandshakeFailure, tlsClientOptions, tlsPeer, type TlsPeer } from './tls.js';

export interface HttpRequestOptions {
  host: string;
  port: number;
  /** Path with query string, e.g. `/?query=SELECT%201`. */
  path: string;
  /** GET unless a probe needs a read-only POST (e.g. a count-only query API). */
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBytes?: number;
  signal?: AbortSignal;
  /** HTTPS: any certificate is accepted (the scan proves exposure, not trust); SNI is the host name. */
  tls?: boolean;
}

export interface HttpReply {
  ok: true;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body was cut at maxBytes. */
  truncated: boolean;
  /** Set when the reply came over TLS. */
  tls?: TlsPeer;
}

export const USER_AGENT = 'warden-scan (+read-only exposure check)';

/**
 * Go's HTTP servers (the Kubernetes API server, the kubelet, Docker) answer a plain request on a TLS port
 * with this 400 instead of a TLS alert.
 */
const PLAIN_ON_TLS_PORT = 'Client sent an HTTP request to an HTTPS server';

/**
 * One HTTP/1.1 request over plain TCP or TLS with no agent, no redirects, a deadline covering connect,
 * handshake and last byte, and a capped body. A peer that speaks the other protocol (TLS on a plain
 * request, plain on a TLS one), garbage, or a handshake that fails becomes a `protocol` failure.
 */
export function httpRequest(opts: HttpRequestOptions): Promise<HttpReply | TransportFailure> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: HttpReply | TransportFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(value);
    };
    const request = opts.tls ? tlsRequest : plainRequest;
    const req = request({
      host: opts.host,
      port: opts.port,
      ...(opts.tls ? tlsClientOptions(opts.host) : {}),
      path: opts.path,
      method: opts.method ?? 'GET',
      agent: false,
      // Caps the header block a hostile server can make us parse.
      maxHeaderSize: 16 * 1024,
      headers: {
        'user-agent': USER_AGENT,
        accept: '*/*',
        connection: 'close',
        ...(opts.body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
        ...opts.headers,
      },
    });
    const onAbort = () => settle(failure('aborted', 'scan cancelled'));
    // setImmediate: a reply that arrived while the scanner was busy is read before the deadline counts.
    const timer = setTimeout(
      () => setImmediate(() => settled || (noteStall(), settle(failure('timeout', `no complete HTTP reply within ${opts.timeoutMs} ms`)))),
      opts.timeoutMs,
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let firstBytes: Buffer | undefined;
    req.on('socket', (socket) => {
      socket.once('data', (chunk: Buffer) => {
        firstBytes = chunk.subarray(0, 8);
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!opts.tls && firstBytes && looksLikeTls(firstBytes)) return settle(failure('protocol', 'peer speaks TLS on a plain port'));
      const code = err.code ?? '';
      if (opts.tls && isHandshakeFailure(err)) return settle(failure('protocol', `no TLS handshake (${code})`));
      if (code === 'ECONNREFUSED') return settle(failure('refused', code));
      if (code.startsWith('HPE_')) return settle(failure('protocol', `not an HTTP reply (${code})`));
      if (code === 'ECONNRESET' || code === 'EPIPE') return settle(failure('closed', code));
      settle(failure('error', code || err.message));
    });
    req.on('response', (res) => {
      const tls = opts.tls ? { tls: tlsPeer(res.socket as TLSSocket) } : {};
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        const room = maxBytes - size;
        if (chunk.length >= room) {
          chunks.push(chunk.subarray(0, room));
          size += room;
          settle({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), truncated: true, ...tls });
          return;
        }
        chunks.push(chunk);
        size += chunk.length;
      });
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (!opts.tls && res.statusCode === 400 && body.includes(PLAIN_ON_TLS_PORT)) return settle(failure('protocol', 'peer wants TLS on this port'));
        settle({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body, truncated: false, ...tls });
      });
      res.on('error', () => settle(failure('closed', 'connection closed mid-body')));
    });
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** Shorthand for a capped GET. */
export function httpGet(opts: Omit<HttpRequestOptions, 'method' | 'body'>): Promise<HttpReply | TransportFailure> {
  return httpRequest({ ...opts, method: 'GET' });
}

/** The header as one string (first value when repeated). */
export function header(reply: HttpReply, name: string): string | undefined {
  const v = reply.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
