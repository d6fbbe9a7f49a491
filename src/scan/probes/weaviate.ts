/**
 * Weaviate's REST API (8080). Anonymous access is on by default in Docker images. `GET /v1/meta` identifies
 * it (or refuses, naming anonymous access, when it is off); `GET /v1/schema` is the proof. Object counts come
 * from one GraphQL `Aggregate { meta { count } }` query, a read-only POST; objects are never listed or fetched.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

/** Class names are GraphQL identifiers; anything else is not put into a query. */
const CLASS_NAME = /^[A-Z][_0-9A-Za-z]{0,254}$/;

const refusesAnonymousAccess = (reply: JsonReply) => refusesAnonymous(reply) && /anonymous access/i.test(reply.text);

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const meta = await requestJson(ctx, '/v1/meta', { maxBytes: 64 * 1024 });
  if (isFailure(meta)) return undefined;
  if (refusesAnonymousAccess(meta)) return { service: 'weaviate', details: { authRequired: true } };
  if (meta.status !== 200 || !isRecord(meta.json)) return undefined;
  const { hostname, version, modules } = meta.json;
  if (typeof hostname !== 'string' || typeof version !== 'string' || !isRecord(modules)) return undefined;
  return { service: 'weaviate', version };
}

async function objectCounts(ctx: ProbeContext, classes: string[]): Promise<Record<string, number>> {
  const safe = classes.filter((c) => CLASS_NAME.test(c));
  if (!safe.length) return {};
  const query = `{ Aggregate { ${safe.map((c) => `${c} { meta { count } }`).join(' ')} } }`;
  const reply = await requestJson(ctx, '/v1/graphql', { method: 'POST', body: { query }, maxBytes: 64 * 1024 });
  const aggregate =
    !isFailure(reply) && isRecord(reply.json) && isRecord(reply.json.data) && isRecord(reply.json.data.Aggregate) ? reply.json.data.Aggregate : {};
  const counts: Record<string, number> = {};
  for (const c of safe) {
    const first = (aggregate[c] as Array<{ meta?: { count?: unknown } }> | undefined)?.[0]?.meta?.count;
    if (typeof first === 'number') counts[c] = first;
  }
  return counts;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}/v1/schema`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Weaviate', evidence);
  const schema = await requestJson(ctx, '/v1/schema', { maxBytes: 1024 * 1024 });
  if (isFailure(schema)) return accessUnclear('Weaviate', evidence, `/v1/schema gave no answer: ${schema.reason}`);
  if (refusesAnonymous(schema)) return authRequired('Weaviate', evidence, `/v1/schema refused without credentials (HTTP ${schema.status})`, reproduce);
  const classes =
    isRecord(schema.json) && Array.isArray(schema.json.classes)
      ? (schema.json.classes as unknown[]).map((c) => (isRecord(c) ? c.class : undefined)).filter((c): c is string => typeof c === 'string')
      : undefined;
  if (schema.status !== 200 || !classes) return accessUnclear('Weaviate', evidence, `/v1/schema answered HTTP ${schema.status} without classes`);
  evidence.notes.push('/v1/schema answered without credentials (anonymous access is enabled)');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const listed = classes.slice(0, MAX_TABLES_PER_DATABASE);
    const counts = await objectCounts(ctx, listed);
    const tables: TableEvidence[] = listed.map((name) => (counts[name] !== undefined ? { name, rows: counts[name] } : { name }));
    evidence.databases = [{ name: 'classes', tables, ...(classes.length > MAX_TABLES_PER_DATABASE ? { truncated: true } : {}) }];
  }
  return { auth: 'none', severity: rateExposure('none', 'data-store', evidence), title: 'Weaviate open to anonymous access', evidence, reproduce };
}

export const weaviateProbe: Probe = {
  id: 'weaviate',
  service: 'weaviate',
  title: 'Weaviate vector database',
  ports: [8080],
  tags: ['ai', 'data-store', 'vector'],
  levels: {
    fingerprint: 'GET /v1/meta and expects hostname, version and modules (or a 401 naming anonymous access).',
    'auth-check': 'GET /v1/schema with no credentials.',
    metadata:
      'Class names, and object counts from one read-only POST /v1/graphql `{ Aggregate { <Class> { meta { count } } } }`. Objects are never listed or fetched.',
  },
  remediation:
    'Set AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false and enable API-key or OIDC authentication ' +
    '(AUTHENTICATION_APIKEY_ENABLED with AUTHORIZATION_ADMINLIST or RBAC), bind Weaviate to a private interface, and ' +
    'firewall 8080/50051.',
  fingerprint,
  assess,
};
