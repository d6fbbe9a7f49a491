/**
 * JSON over HTTP for the probes of services with a REST API (model servers, vector stores, dashboards,
 * control planes): one capped request through `httpRequest`, the body parsed when it is JSON. A body that
 * is not JSON is not a failure: probes also read plain-text banners and error pages.
 */
import { httpRequest, type HttpReply } from './http.js';
import { isFailure, type TransportFailure } from './result.js';

export interface JsonHttpTarget {
  host: string;
  port: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Speak HTTPS (set by the scanner for probes whose service normally serves TLS). */
  tls?: boolean;
}

export interface JsonReply extends HttpReply {
  /** The parsed body; undefined when it is not JSON (or was cut at the byte cap). */
  json: unknown;
  /** The body as text, for banners and error messages. */
  text: string;
}

export interface JsonRequestOptions {
  /** GET by default; POST only for read-only query APIs that take every call as POST (Milvus, GraphQL). */
  method?: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: unknown;
  maxBytes?: number;
}

export async function requestJson(target: JsonHttpTarget, path: string, opts: JsonRequestOptions = {}): Promise<JsonReply | TransportFailure> {
  const reply = await httpRequest({
    host: target.host,
    port: target.port,
    path,
    method: opts.method ?? 'GET',
    headers: opts.headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    timeoutMs: target.timeoutMs,
    signal: target.signal,
    tls: target.tls,
    maxBytes: opts.maxBytes ?? 256 * 1024,
  });
  if (isFailure(reply)) return reply;
  const text = reply.body.toString('utf8');
  let json: unknown;
  if (!reply.truncated) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { ...reply, json, text };
}

/** A `curl` GET that reproduces a request (`-k` over TLS: the proof is about access, not the certificate). */
export function curlCommand(target: JsonHttpTarget, path: string): string {
  return `curl -s${target.tls ? 'k' : ''} '${target.tls ? 'https' : 'http'}://${target.host}:${target.port}${path}'`;
}

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `Authorization` header for HTTP Basic with a published default login. */
export function basicAuth(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** 401 and 403 are the answers of a service that wants credentials. */
export const refusesAnonymous = (reply: HttpReply) => reply.status === 401 || reply.status === 403;
