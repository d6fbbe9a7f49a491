/**
 * AWS Signature Version 4 for a body-less request, as documented in "Create a signed AWS API request"
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html). Used only to try a
 * published default key pair (MinIO's) when the user passes --default-credentials.
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigV4Request {
  method: string;
  host: string;
  path: string;
  /** Query parameters; they are sorted and encoded here. */
  query?: Record<string, string>;
  /** Headers to sign besides host and x-amz-date (names lowercase). */
  headers?: Record<string, string>;
  accessKey: string;
  secretKey: string;
  region: string;
  service: string;
  /** Signing time (defaults to now). */
  date?: Date;
}

export const EMPTY_PAYLOAD_SHA256 = createHash('sha256').update('').digest('hex');

// RFC 3986 unreserved characters stay; everything else is percent-encoded, as SigV4 requires.
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** Returns the headers to send: x-amz-date and Authorization, plus the signed extras. */
export function signV4(req: SigV4Request): Record<string, string> {
  const amzDate = (req.date ?? new Date())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...req.headers, host: req.host, 'x-amz-date': amzDate };
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .sort();
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]));
  const query = Object.entries(req.query ?? {})
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const payloadHash = lower['x-amz-content-sha256'] ?? EMPTY_PAYLOAD_SHA256;
  const canonical = [
    req.method,
    req.path.split('/').map(encode).join('/'),
    query,
    ...names.map((n) => `${n}:${lower[n]}`),
    '',
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${req.region}/${req.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${req.secretKey}`, day), req.region), req.service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers;
  return { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${req.accessKey}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}
