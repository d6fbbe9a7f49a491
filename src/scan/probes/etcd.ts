/**
 * etcd v3 through its JSON gateway (the gRPC API over HTTP on the client port). `/version` is open by
 * design, so it only identifies the server; a count-only range over the whole keyspace is the request
 * that needs authorisation when auth is enabled.
 */
import { inspectRows, rateExposure } from '../evidence.js';
import { httpGet, httpRequest, type HttpReply } from '../transports/http.js';
import { isFailure, type TransportFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

const REMEDIATION =
  'Enable etcd authentication (etcdctl user add root; etcdctl auth enable) and client certificate auth ' +
  '(--client-cert-auth with --trusted-ca-file), serve the client port over TLS only, and firewall 2379/2380 ' +
  'so only the control plane and etcd peers can reach them.';

/** Key ranges are base64 in the JSON gateway; "\0" as both key and range_end means the whole keyspace. */
const ALL_KEYS = { key: 'AA==', range_end: 'AA==' };
/** Kubernetes stores Secrets under this prefix; range_end is the prefix with its last byte incremented. */
const KUBERNETES_SECRETS = { key: Buffer.from('/registry/secrets/').toString('base64'), range_end: Buffer.from('/registry/secrets0').toString('base64') };

interface RangeReply {
  header?: { cluster_id?: string; revision?: string };
  count?: string;
  kvs?: Array<{ value?: string }>;
}

function parseJson<T>(reply: HttpReply): T | undefined {
  try {
    const value = JSON.parse(reply.body.toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await httpGet({ host: ctx.host, port: ctx.port, path: '/version', timeoutMs: ctx.timeoutMs, signal: ctx.signal, maxBytes: 4096 });
  if (isFailure(reply) || reply.status !== 200) return undefined;
  const body = parseJson<{ etcdserver?: unknown; etcdcluster?: unknown }>(reply);
  if (typeof body?.etcdserver !== 'string') return undefined;
  return { service: 'etcd', version: body.etcdserver, details: typeof body.etcdcluster === 'string' ? { cluster: body.etcdcluster } : {} };
}

/** etcd 3.3 serves the gateway under /v3beta, 3.4+ under /v3; the first that is not 404 wins. */
async function range(ctx: ProbeContext, body: object, maxBytes?: number): Promise<{ path: string; reply: HttpReply } | TransportFailure> {
  let last: HttpReply | TransportFailure | undefined;
  for (const path of ['/v3/kv/range', '/v3beta/kv/range']) {
    // A read-only POST: the gateway takes every call as POST with a JSON body.
    last = await httpRequest({
      host: ctx.host,
      port: ctx.port,
      path,
      method: 'POST',
      body: JSON.stringify(body),
      timeoutMs: ctx.timeoutMs,
      signal: ctx.signal,
      maxBytes,
    });
    if (isFailure(last)) return last;
    if (last.status !== 404) return { path, reply: last };
  }
  return { path: '/v3/kv/range', reply: last as HttpReply };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  // curl rather than etcdctl: etcdctl only gained --count-only in 3.5.
  const reproduce = `curl -s -X POST http://${ctx.host}:${ctx.port}/v3/kv/range -d '{"key":"AA==","range_end":"AA==","count_only":true}'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: 'etcd found (access not checked)', evidence };
  }
  const counted = await range(ctx, { ...ALL_KEYS, count_only: true });
  if (isFailure(counted)) {
    evidence.notes.push(`count-only range gave no answer: ${counted.reason}`);
    return { auth: 'unknown', severity: 'info', title: 'etcd found, access could not be checked', evidence };
  }
  const text = counted.reply.body.toString('utf8');
  if (/user name is empty|invalid auth token|permission denied/i.test(text) || counted.reply.status === 401 || counted.reply.status === 403) {
    evidence.notes.push(`count-only range refused (HTTP ${counted.reply.status}): authentication is enabled`);
    return { auth: 'required', severity: 'info', title: 'etcd requires authentication', evidence, reproduce };
  }
  const all = parseJson<RangeReply>(counted.reply);
  // `{"header":{}}` is easy to fake: etcd's range header names its cluster and revision as decimal strings.
  if (counted.reply.status !== 200 || !all || !/^\d+$/.test(all.header?.cluster_id ?? '') || !/^\d+$/.test(all.header?.revision ?? '')) {
    evidence.notes.push(`count-only range answered HTTP ${counted.reply.status} without a range result`);
    return { auth: 'unknown', severity: 'info', title: 'etcd found, range answer not understood', evidence };
  }
  evidence.notes.push(`${counted.path} answered a count-only range without credentials`);
  const keys = Number(all.count ?? 0);
  const tables: TableEvidence[] = [];
  if (levelAllowed('metadata', ctx.maxLevel)) {
    tables.push({ name: 'keys', rows: keys });
    const secrets = await range(ctx, { ...KUBERNETES_SECRETS, count_only: true });
    const secretCount = isFailure(secrets) ? undefined : Number(parseJson<RangeReply>(secrets.reply)?.count ?? 0);
    if (secretCount) {
      tables.push({ name: '/registry/secrets/', rows: secretCount });
      evidence.notes.push(`${secretCount} Kubernetes Secrets are stored under /registry/secrets/`);
    }
  }
  if (levelAllowed('sample', ctx.maxLevel) && ctx.sample > 0 && keys > 0) {
    const sampled = await range(ctx, { ...ALL_KEYS, limit: ctx.sample }, 1024 * 1024);
    const kvs = isFailure(sampled) ? undefined : parseJson<RangeReply>(sampled.reply)?.kvs;
    if (!kvs) evidence.notes.push('sampling failed: no range result');
    else {
      const rows = kvs.map((kv) => ({ value: Buffer.from(kv.value ?? '', 'base64').toString('utf8') }));
      tables[0] = { name: 'keys', rows: keys, ...inspectRows(rows, ctx.detector) };
    }
  }
  if (tables.length) evidence.databases = [{ name: 'etcd', tables }];
  const severity = rateExposure('none', 'data-store', evidence);
  const critical = severity === 'critical';
  return {
    auth: 'none',
    severity,
    title: critical ? 'etcd open without authentication, stored values hold credentials or chat content' : 'etcd open without authentication',
    evidence,
    reproduce,
  };
}

export const etcdProbe: Probe = {
  id: 'etcd',
  service: 'etcd',
  title: 'etcd v3 (JSON gateway on the client port)',
  ports: [2379],
  tags: ['data-store', 'control-plane'],
  levels: {
    fingerprint: 'GET /version and expects JSON with `etcdserver`.',
    'auth-check': 'POST /v3/kv/range with count_only over the whole keyspace (no keys or values returned); refused when auth is on.',
    metadata: 'The key count from that answer, and a count-only range over /registry/secrets/ (Kubernetes Secrets).',
    sample: 'POST /v3/kv/range with limit N over the whole keyspace; values go through the detector and are never kept.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
