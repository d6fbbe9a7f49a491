/**
 * A MinIO / S3-compatible test server following the S3 REST API as documented by AWS (ListBuckets:
 * `GET /` -> ListAllMyBucketsResult; ListObjectsV2: `GET /<bucket>?list-type=2` -> ListBucketResult with
 * KeyCount; errors as `<Error><Code>AccessDenied</Code>...` with 403) and MinIO's health endpoint
 * (`GET /minio/health/live`, `Server: MinIO`). Signed requests are checked with AWS Signature V4
 * (src/scan/transports/sigv4.ts, itself checked against AWS's worked example).
 *
 * Modes:
 * - open: buckets named in `publicBuckets` have an anonymous read-and-list policy; anonymous ListBuckets is
 *   still denied, as on MinIO and S3.
 * - locked: every anonymous request is AccessDenied.
 * - garbage: answers with bytes that are not HTTP.
 * In both open and locked modes, requests signed with `credentials` are allowed everything.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { signV4 } from '../../src/scan/transports/sigv4.js';
import { listenLoopback, type TestServer } from './hostile.js';

export type MinioMode = 'open' | 'locked' | 'garbage';

export interface TestMinio extends TestServer {
  requests: string[];
}

export interface TestMinioOptions {
  mode: MinioMode;
  /** Bucket name to object keys. */
  buckets?: Record<string, string[]>;
  publicBuckets?: string[];
  credentials?: { accessKey: string; secretKey: string };
  port?: number;
}

function xml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml', server: 'MinIO', 'x-amz-request-id': '17A0C0FFEE000001' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

const denied = (res: ServerResponse, resource: string) =>
  xml(res, 403, `<Error><Code>AccessDenied</Code><Message>Access Denied.</Message><Resource>${resource}</Resource></Error>`);

function signedCorrectly(req: IncomingMessage, url: URL, creds: TestMinioOptions['credentials']): boolean {
  const auth = req.headers.authorization;
  const amzDate = req.headers['x-amz-date'];
  if (!creds || typeof auth !== 'string' || typeof amzDate !== 'string') return false;
  const signedNames = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
  const region = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(auth)?.[1] ?? '';
  const extra = Object.fromEntries(signedNames.filter((n) => n !== 'host' && n !== 'x-amz-date').map((n) => [n, String(req.headers[n] ?? '')]));
  const date = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const expected = signV4({
    method: req.method ?? 'GET',
    host: String(req.headers.host),
    path: decodeURIComponent(url.pathname),
    query: Object.fromEntries(url.searchParams),
    headers: extra,
    accessKey: creds.accessKey,
    secretKey: creds.secretKey,
    region,
    service: 's3',
    date,
  });
  return expected.authorization === auth;
}

export async function startTestMinio(opts: TestMinioOptions): Promise<TestMinio> {
  const requests: string[] = [];
  const buckets = opts.buckets ?? {};
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (opts.mode === 'garbage') return void req.socket.end('\x16\x00 not http at all\r\n\r\n');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/minio/health/live') {
      res.writeHead(200, { server: 'MinIO' });
      return void res.end();
    }
    const signed = signedCorrectly(req, url, opts.credentials);
    if (req.headers.authorization && !signed) {
      return xml(
        res,
        403,
        '<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>',
      );
    }
    if (req.method !== 'GET') return denied(res, url.pathname);
    if (url.pathname === '/') {
      if (!signed) return denied(res, '/');
      const list = Object.keys(buckets)
        .map((b) => `<Bucket><Name>${b}</Name><CreationDate>2025-01-06T00:00:00.000Z</CreationDate></Bucket>`)
        .join('');
      return xml(
        res,
        200,
        `<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID></Owner><Buckets>${list}</Buckets></ListAllMyBucketsResult>`,
      );
    }
    const bucket = decodeURIComponent(url.pathname.slice(1).replace(/\/$/, ''));
    const keys = buckets[bucket];
    if (keys === undefined)
      return xml(res, 404, `<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>${bucket}</BucketName></Error>`);
    const anonymousAllowed = opts.mode === 'open' && (opts.publicBuckets ?? []).includes(bucket);
    if (!signed && !anonymousAllowed) return denied(res, url.pathname);
    const max = Number(url.searchParams.get('max-keys') ?? 1000);
    const shown = keys.slice(0, max);
    const contents = shown.map((k) => `<Contents><Key>${k}</Key><Size>10</Size></Contents>`).join('');
    xml(
      res,
      200,
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><KeyCount>${shown.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${keys.length > max}</IsTruncated>${contents}</ListBucketResult>`,
    );
  });
  const listening = await listenLoopback(server, opts.port);
  return { ...listening, requests };
}
