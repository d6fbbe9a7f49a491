/**
 * How each proxy reports the request it is asking about, read strictly: a report that is missing a part,
 * names it twice, or names it in two ways is refused, never guessed at. Two proxies on a path (or a client
 * sending the header itself, past a proxy that did not overwrite it) are what a second copy means.
 */
import { badReport, type OriginalRequest } from './authorize.js';
import type { Refusal } from '../policy.js';

/** A method as a client may send it (RFC 9110 token, as the profiles name them). */
const METHOD = /^[A-Z]{1,20}$/;
/** Printable ASCII without space or `#`: the request target as it appears on a request line (RFC 9112 §3.2). */
const TARGET = /^[\x21-\x22\x24-\x7e]+$/;

/** The path and query of a reported request target: origin-form only (`/path?query`), as the gateway itself is sent. */
export function reportedTarget(target: string | undefined): { path: string; query: string } | Refusal {
  if (!target) return badReport('original_uri_missing', 'the proxy did not say which URI was requested');
  // Absolute-form (`http://host/path`) names a host of its own; `*` and authority-form name no path.
  if (!target.startsWith('/') || !TARGET.test(target)) return badReport('original_uri_ambiguous', 'the URI the proxy reported is not a plain path and query');
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

export function reportedMethod(method: string | undefined): string | Refusal {
  if (!method) return badReport('original_method_missing', 'the proxy did not say which method was used');
  return METHOD.test(method) ? method : badReport('original_method_ambiguous', 'the method the proxy reported is not one');
}

/** Header fields as name, value pairs (names in lower case, every copy kept), read one name at a time. */
export class ReportedFields {
  private readonly values = new Map<string, string[]>();

  constructor(fields: Iterable<[string, string]>) {
    for (const [name, value] of fields) {
      const seen = this.values.get(name);
      if (seen) seen.push(value);
      else this.values.set(name, [value]);
    }
  }

  get names(): ReadonlySet<string> {
    return new Set(this.values.keys());
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The one copy of a field; a second copy makes it `twice`. */
  one(name: string): string | undefined | typeof TWICE {
    const values = this.values.get(name);
    if (!values) return undefined;
    return values.length === 1 ? values[0] : TWICE;
  }
}

export const TWICE: unique symbol = Symbol('twice');

/** The field names a report is made of: each must come once. */
const REPORT_FIELDS = [
  'x-original-uri',
  'x-original-method',
  'x-forwarded-uri',
  'x-forwarded-method',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-for',
  'x-api-key',
];

/**
 * The client's address as the nearest proxy saw it: the last entry of X-Forwarded-For, which that proxy wrote
 * (entries before it are whatever the client or earlier hops claimed). Without one the address is unknown (''),
 * which a key limited to address ranges does not pass: the authorization server's own peer is the proxy.
 */
function clientAddress(forwardedFor: string | undefined): string {
  if (!forwardedFor) return '';
  const last = forwardedFor.slice(forwardedFor.lastIndexOf(',') + 1).trim();
  return last.startsWith('[') ? last.slice(1, last.indexOf(']')) : last;
}

function originalRequest(fields: ReportedFields, method: string, target: { path: string; query: string }, host: string | undefined): OriginalRequest {
  const apiKey = fields.one('x-api-key') as string | undefined;
  const authorization = fields.one('authorization') as string | undefined;
  return {
    method,
    host,
    path: target.path,
    query: target.query,
    apiKey,
    authorization,
    clientIp: clientAddress(fields.one('x-forwarded-for') as string | undefined),
    tls: null,
    userAgent: fields.one('user-agent') as string | undefined,
    via: 'authz',
    upgrade: fields.one('upgrade') as string | undefined,
    fieldNames: fields.names,
  };
}

function repeated(fields: ReportedFields, names: readonly string[]): Refusal | null {
  const twice = names.find((name) => fields.one(name) === TWICE);
  return twice ? badReport('original_request_ambiguous', `the proxy sent ${twice} twice`) : null;
}

/**
 * A forward-auth report: nginx `auth_request` (X-Original-Method, X-Original-URI, and the Host of the request),
 * or Caddy `forward_auth` and Traefik `forwardAuth` (X-Forwarded-Method, -Uri, -Host, -Proto). Both kinds at
 * once is two reports of one request: refused.
 */
export function forwardAuthReport(fields: ReportedFields): OriginalRequest | Refusal {
  const twice = repeated(fields, [...REPORT_FIELDS, 'host', 'authorization', 'upgrade']);
  if (twice) return twice;
  const nginx = fields.has('x-original-uri') || fields.has('x-original-method');
  const forwarded = fields.has('x-forwarded-uri') || fields.has('x-forwarded-method');
  if (nginx && forwarded) return badReport('original_request_ambiguous', 'the proxy reported the request both as X-Original-* and as X-Forwarded-*');
  const method = reportedMethod((nginx ? fields.one('x-original-method') : fields.one('x-forwarded-method')) as string | undefined);
  if (typeof method !== 'string') return method;
  const target = reportedTarget((nginx ? fields.one('x-original-uri') : fields.one('x-forwarded-uri')) as string | undefined);
  if ('reason' in target) return target;
  const host = (nginx ? fields.one('host') : (fields.one('x-forwarded-host') ?? fields.one('host'))) as string | undefined;
  return originalRequest(fields, method, target, host);
}

/**
 * Envoy's HTTP ext_authz service: the original method, the original path after the service's `path_prefix`,
 * the original Host, and the headers its `allowed_headers` lets through.
 */
export function envoyHttpReport(fields: ReportedFields, method: string, target: string, prefix: string): OriginalRequest | Refusal {
  const twice = repeated(fields, [...REPORT_FIELDS, 'host', 'authorization', 'upgrade']);
  if (twice) return twice;
  if (fields.has('x-original-uri') || fields.has('x-forwarded-uri'))
    return badReport('original_request_ambiguous', 'the request was reported both by its path and by a header');
  const reported = reportedTarget(target.slice(prefix.length));
  if ('reason' in reported) return reported;
  return originalRequest(fields, method, reported, fields.one('host') as string | undefined);
}

/** The report in Envoy's gRPC CheckRequest: `attributes.request.http` and the source address. */
export function envoyGrpcReport(
  fields: ReportedFields,
  http: { method?: string; path?: string; host?: string },
  sourceAddress: string | undefined,
): OriginalRequest | Refusal {
  const twice = repeated(fields, ['host', 'authorization', 'x-api-key', 'upgrade']);
  if (twice) return twice;
  const method = reportedMethod(http.method);
  if (typeof method !== 'string') return method;
  const target = reportedTarget(http.path);
  if ('reason' in target) return target;
  return { ...originalRequest(fields, method, target, http.host), clientIp: sourceAddress ?? '' };
}
