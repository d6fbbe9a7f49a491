/**
 * Elasticsearch and OpenSearch over their REST API. `GET /` identifies the cluster (or, with security on,
 * answers 401 with a security realm); `_cat/indices` is the request that needs authorisation. Documents
 * are read only with --sample, through `_search?size=N` on each index.
 */
import { inspectRows, MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { header, httpGet, type HttpReply } from '../transports/http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

const REMEDIATION =
  'Enable security (xpack.security.enabled: true on Elasticsearch; the security plugin on OpenSearch) with TLS on ' +
  'the HTTP layer, set strong passwords for built-in users (elastic, admin), bind network.host to a private ' +
  'interface, and firewall 9200/9300 from untrusted networks.';

/** Published defaults: elastic/changeme (X-Pack before 6.0) and admin/admin (OpenSearch demo configuration). */
const DEFAULT_LOGINS = [
  { user: 'elastic', password: 'changeme' },
  { user: 'admin', password: 'admin' },
];

const CAT_INDICES = '/_cat/indices?format=json&h=index,docs.count,store.size&bytes=b';

function parseJson(reply: HttpReply): unknown {
  try {
    return JSON.parse(reply.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const get = (ctx: ProbeContext, path: string, headers?: Record<string, string>, maxBytes?: number) =>
  httpGet({ host: ctx.host, port: ctx.port, path, headers, timeoutMs: ctx.timeoutMs, signal: ctx.signal, maxBytes });

/** A 401 from Elasticsearch or OpenSearch security names its realm or a security_exception. */
function isSearchAuthChallenge(reply: HttpReply): boolean {
  const challenge = header(reply, 'www-authenticate') ?? '';
  return reply.status === 401 && (/realm="(security|OpenSearch Security)"/i.test(challenge) || reply.body.includes('security_exception'));
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await get(ctx, '/', undefined, 16 * 1024);
  if (isFailure(reply)) return undefined;
  if (isSearchAuthChallenge(reply)) return { service: 'elasticsearch', details: { authRequired: true } };
  if (reply.status !== 200) return undefined;
  const root = parseJson(reply) as { cluster_name?: unknown; tagline?: unknown; version?: { number?: unknown; distribution?: unknown } } | undefined;
  if (typeof root?.version?.number !== 'string' || typeof root.cluster_name !== 'string') return undefined;
  const opensearch = root.version.distribution === 'opensearch';
  if (!opensearch && root.tagline !== 'You Know, for Search') return undefined;
  return {
    service: 'elasticsearch',
    version: root.version.number,
    details: { product: opensearch ? 'OpenSearch' : 'Elasticsearch', cluster: root.cluster_name },
  };
}

interface CatIndex {
  index?: unknown;
  'docs.count'?: unknown;
  'store.size'?: unknown;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const product = String(fp.details?.product ?? 'Elasticsearch');
  const base = `http://${ctx.host}:${ctx.port}`;
  let reproduce = `curl -s '${base}${CAT_INDICES}'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) {
    return { auth: 'unknown', severity: 'info', title: `${product} found (access not checked)`, evidence };
  }
  let auth: AuthState = 'none';
  let authHeader: Record<string, string> | undefined;
  let listed = await get(ctx, CAT_INDICES);
  if (isFailure(listed)) {
    evidence.notes.push(`_cat/indices gave no answer: ${listed.reason}`);
    return { auth: 'unknown', severity: 'info', title: `${product} found, access could not be checked`, evidence };
  }
  if (listed.status === 401 || listed.status === 403) {
    evidence.notes.push(`_cat/indices refused without credentials (HTTP ${listed.status})`);
    const locked: Assessment = { auth: 'required', severity: 'info', title: `${product} requires authentication`, evidence, reproduce };
    if (!ctx.defaultCredentials || !levelAllowed('default-credentials', ctx.maxLevel)) return locked;
    for (const login of DEFAULT_LOGINS) {
      const headers = { authorization: `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}` };
      const tried = await get(ctx, CAT_INDICES, headers);
      if (!isFailure(tried) && tried.status === 200) {
        auth = 'default-credentials';
        authHeader = headers;
        listed = tried;
        evidence.credentialsAccepted = `${login.user}:published default password`;
        // curl prompts for the password, so the command carries no secret.
        reproduce = `curl -s -u ${login.user} '${base}${CAT_INDICES}'`;
        break;
      }
    }
    if (auth !== 'default-credentials') return locked;
  }
  const rows = parseJson(listed);
  if (listed.status !== 200 || !Array.isArray(rows)) {
    evidence.notes.push(`_cat/indices answered HTTP ${listed.status} without an index list`);
    return { auth: 'unknown', severity: 'info', title: `${product} found, index listing not understood`, evidence };
  }
  evidence.notes.push(
    auth === 'none'
      ? '_cat/indices answered without credentials'
      : `_cat/indices answered with the published default login for ${evidence.credentialsAccepted}`,
  );
  if (levelAllowed('metadata', ctx.maxLevel)) {
    // Dot-prefixed indices are the cluster's own (security, tasks, monitoring).
    const userIndices = (rows as CatIndex[]).filter((r) => typeof r.index === 'string' && !r.index.startsWith('.'));
    const tables: TableEvidence[] = [];
    for (const row of userIndices.slice(0, MAX_TABLES_PER_DATABASE)) {
      const name = String(row.index);
      const table: TableEvidence = { name, rows: Number(row['docs.count'] ?? 0) };
      if (levelAllowed('sample', ctx.maxLevel) && ctx.sample > 0 && (table.rows ?? 0) > 0) {
        const found = await get(ctx, `/${encodeURIComponent(name)}/_search?size=${ctx.sample}`, authHeader, 1024 * 1024);
        const hits = isFailure(found)
          ? undefined
          : (parseJson(found) as { hits?: { hits?: Array<{ _source?: Record<string, unknown> }> } } | undefined)?.hits?.hits;
        if (Array.isArray(hits))
          Object.assign(
            table,
            inspectRows(
              hits.map((h) => h._source ?? {}),
              ctx.detector,
            ),
          );
        else evidence.notes.push(`sampling ${name} failed`);
      }
      tables.push(table);
    }
    evidence.databases = [
      { name: String(fp.details?.cluster ?? 'cluster'), tables, ...(userIndices.length > MAX_TABLES_PER_DATABASE ? { truncated: true } : {}) },
    ];
  }
  const severity = rateExposure(auth, 'data-store', evidence);
  const how = auth === 'none' ? 'open without authentication' : 'open with a published default password';
  return {
    auth,
    severity,
    title: severity === 'critical' ? `${product} ${how}, documents hold credentials or chat content` : `${product} ${how}`,
    evidence,
    reproduce,
  };
}

export const elasticsearchProbe: Probe = {
  id: 'elasticsearch',
  service: 'elasticsearch',
  title: 'Elasticsearch / OpenSearch (REST API)',
  ports: [9200],
  tags: ['data-store', 'search'],
  levels: {
    fingerprint:
      'GET / and expects cluster_name and version.number with the Elasticsearch tagline or the OpenSearch distribution (or a 401 from a security realm).',
    'auth-check': 'GET /_cat/indices?format=json (index names, document counts, sizes).',
    metadata: 'Index names (cluster-internal dot indices skipped) and document counts from the same answer.',
    'default-credentials': 'When locked: the same GET with Basic elastic/changeme, then admin/admin.',
    sample: 'GET /<index>/_search?size=N per index; documents go through the detector and are never kept.',
  },
  remediation: REMEDIATION,
  fingerprint,
  assess,
};
