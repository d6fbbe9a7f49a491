/**
 * MinIO and other S3-compatible object stores over the S3 REST API. Anonymous ListBuckets proves a fully
 * open server; since MinIO and S3 deny it even with public buckets, well-known bucket names are then
 * listed anonymously (ListObjectsV2, key counts only). With --default-credentials, ListBuckets is signed
 * (AWS SigV4) with MinIO's published default key pair. Object bodies are never read.
 */
import { rateExposure } from '../evidence.js';
import { header, httpGet, type HttpReply } from '../transports/http.js';
import { isFailure } from '../transports/result.js';
import { EMPTY_PAYLOAD_SHA256, signV4 } from '../transports/sigv4.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

const REMEDIATION =
  'Set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD to non-default values, remove anonymous bucket policies ' +
  '(mc anonymous set none ALIAS/BUCKET), serve the S3 API over TLS, and firewall 9000/9001 from untrusted networks.';

/** MinIO's documented default root credentials (before MINIO_ROOT_USER/PASSWORD are set). */
const DEFAULT_KEYS = { accessKey: 'minioadmin', secretKey: 'minioadmin' };
/** Bucket names AI stacks create by default (Langfuse, MLflow, ...) or that people commonly make public. */
const WELL_KNOWN_BUCKETS = ['langfuse', 'mlflow', 'models', 'datasets', 'uploads', 'public', 'backups', 'logs', 'data'];
const MAX_BUCKETS = 100;
const LIST_PARAMS = { 'list-type': '2', 'max-keys': '1000' };

const listPath = (bucket: string) => `/${encodeURIComponent(bucket)}?list-type=2&max-keys=1000`;

function xmlValues(body: string, tag: string): string[] {
  return [...body.matchAll(new RegExp(`<${tag}>([^<]{0,1024})</${tag}>`, 'g'))].map((m) => m[1]!);
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const opts = { host: ctx.host, port: ctx.port, timeoutMs: ctx.timeoutMs, signal: ctx.signal, maxBytes: 16 * 1024 };
  const health = await httpGet({ ...opts, path: '/minio/health/live' });
  if (isFailure(health)) return undefined;
  if (health.status === 200 && /minio/i.test(header(health, 'server') ?? '')) return { service: 'minio', details: { product: 'MinIO' } };
  const root = await httpGet({ ...opts, path: '/' });
  if (isFailure(root)) return undefined;
  const body = root.body.toString('utf8');
  if (
    /<ListAllMyBucketsResult[\s>]/.test(body) ||
    (/<Error>/.test(body) && /<Code>(AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch)<\/Code>/.test(body))
  ) {
    return { service: 'minio', details: { product: header(root, 'server') ?? 'S3-compatible' } };
  }
  return undefined;
}

/** The whole ListBuckets document, not one tag: ListAllMyBucketsResult with its Owner and Buckets elements. */
const isBucketList = (body: string) => /<ListAllMyBucketsResult[\s>][\s\S]*<Owner>[\s\S]*<Buckets\s*\/?>[\s\S]*<\/ListAllMyBucketsResult>/.test(body);

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const product = String(fp.details?.product ?? 'S3-compatible store');
  const base = `http://${ctx.host}:${ctx.port}`;
  const get = (path: string, headers?: Record<string, string>) =>
    httpGet({ host: ctx.host, port: ctx.port, path, headers, timeoutMs: ctx.timeoutMs, signal: ctx.signal, maxBytes: 256 * 1024 });
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: `${product} found (access not checked)`, evidence };
  }
  let auth: AuthState = 'required';
  let reproduce = `curl -s '${base}/'`;
  let buckets: string[] = [];
  let sign: ((bucket: string) => Record<string, string>) | undefined;
  const anonymous = await get('/');
  if (isFailure(anonymous)) {
    evidence.notes.push(`anonymous ListBuckets gave no answer: ${anonymous.reason}`);
    return { auth: 'unknown', severity: 'info', title: `${product} found, access could not be checked`, evidence };
  }
  const anonymousBody = anonymous.body.toString('utf8');
  if (anonymous.status === 200 && isBucketList(anonymousBody)) {
    auth = 'none';
    buckets = xmlValues(anonymousBody, 'Name');
    evidence.notes.push('anonymous ListBuckets answered');
  } else {
    evidence.notes.push(`anonymous ListBuckets refused (HTTP ${anonymous.status})`);
    // Public buckets are still listable by name: try the well-known ones.
    for (const bucket of WELL_KNOWN_BUCKETS) {
      const listed = await get(listPath(bucket));
      if (!isFailure(listed) && listed.status === 200 && /<ListBucketResult[\s>]/.test(listed.body.toString('utf8'))) {
        auth = 'none';
        buckets.push(bucket);
      }
    }
    if (auth === 'none') {
      evidence.notes.push(`anonymous listing allowed on bucket(s): ${buckets.join(', ')}`);
      reproduce = `curl -s '${base}${listPath(buckets[0]!)}'`;
    }
  }
  if (auth === 'required' && ctx.defaultCredentials && levelAllowed('default-credentials', ctx.maxLevel)) {
    const host = `${ctx.host}:${ctx.port}`;
    sign = (bucket: string) =>
      signV4({
        method: 'GET',
        host,
        path: bucket ? `/${bucket}` : '/',
        query: bucket ? LIST_PARAMS : {},
        headers: { 'x-amz-content-sha256': EMPTY_PAYLOAD_SHA256 },
        ...DEFAULT_KEYS,
        region: 'us-east-1',
        service: 's3',
      });
    const signed = await get('/', { host, ...sign('') });
    if (!isFailure(signed) && signed.status === 200 && isBucketList(signed.body.toString('utf8'))) {
      auth = 'default-credentials';
      buckets = xmlValues(signed.body.toString('utf8'), 'Name');
      evidence.credentialsAccepted = `${DEFAULT_KEYS.accessKey}:published default secret key`;
      evidence.notes.push('ListBuckets signed with the published MinIO default key pair answered');
      reproduce = `aws --endpoint-url ${base} s3 ls   # with MinIO's published default key pair in the environment`;
    }
  }
  if (auth === 'required' && anonymous.status === 200) {
    evidence.notes.push('ListBuckets answered HTTP 200 without a bucket list: no proof either way');
    return { auth: 'unknown', severity: 'info', title: `${product} found, access could not be checked`, evidence };
  }
  if (auth === 'required') {
    return { auth, severity: 'info', title: `${product} requires authentication`, evidence, reproduce };
  }
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const tables: TableEvidence[] = [];
    for (const bucket of buckets.slice(0, MAX_BUCKETS)) {
      const host = `${ctx.host}:${ctx.port}`;
      const listed: HttpReply | undefined = await get(listPath(bucket), sign ? { host, ...sign(bucket) } : undefined).then((r) =>
        isFailure(r) ? undefined : r,
      );
      const body = listed?.status === 200 ? listed.body.toString('utf8') : '';
      const count = Number(xmlValues(body, 'KeyCount')[0] ?? NaN);
      const truncated = xmlValues(body, 'IsTruncated')[0] === 'true';
      tables.push(Number.isFinite(count) ? { name: bucket, rows: count } : { name: bucket });
      if (truncated) evidence.notes.push(`bucket ${bucket} holds more than 1000 objects`);
    }
    evidence.databases = [{ name: 'buckets', tables, ...(buckets.length > MAX_BUCKETS ? { truncated: true } : {}) }];
  }
  const how = auth === 'none' ? 'allows anonymous listing' : 'accepts the default minioadmin key pair';
  return { auth, severity: rateExposure(auth, 'data-store', evidence), title: `${product} ${how}`, evidence, reproduce };
}

export const minioProbe: Probe = {
  id: 'minio',
  service: 'minio',
  title: 'MinIO / S3-compatible object storage',
  ports: [9000, 9001, 9090],
  tags: ['data-store', 'object-storage'],
  levels: {
    fingerprint: 'GET /minio/health/live (Server: MinIO), else GET / and expects S3 XML (a bucket list or an AccessDenied error).',
    'auth-check': `Anonymous GET / (ListBuckets); if refused, anonymous ListObjectsV2 on well-known bucket names (${WELL_KNOWN_BUCKETS.join(', ')}).`,
    metadata: 'Bucket names and object counts (ListObjectsV2, max-keys 1000, key counts only). Object bodies are never read.',
    'default-credentials': 'ListBuckets signed (AWS SigV4) with the MinIO default key pair minioadmin/minioadmin.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
