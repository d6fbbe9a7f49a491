/**
 * Chroma's REST API (8000). The heartbeat answers everyone; listing collections needs credentials when an
 * auth provider is configured, and Chroma runs with none by default. API v2 (Chroma 0.6+/1.x) is tried first,
 * then v1. Documents are never fetched or queried: only collection names and counts.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

const HEARTBEAT_KEY = 'nanosecond heartbeat';
const COLLECTIONS: Record<string, string> = {
  v2: '/api/v2/tenants/default_tenant/databases/default_database/collections',
  v1: '/api/v1/collections',
};

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  for (const api of ['v2', 'v1']) {
    const beat = await requestJson(ctx, `/api/${api}/heartbeat`, { maxBytes: 1024 });
    if (isFailure(beat)) return undefined;
    if (beat.status !== 200 || !isRecord(beat.json) || typeof beat.json[HEARTBEAT_KEY] !== 'number') continue;
    const version = await requestJson(ctx, `/api/${api}/version`, { maxBytes: 256 });
    const number = !isFailure(version) && typeof version.json === 'string' ? version.json : undefined;
    return { service: 'chroma', ...(number ? { version: number } : {}), details: { api } };
  }
  return undefined;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const path = COLLECTIONS[String(fp.details?.api ?? 'v2')] ?? COLLECTIONS.v2!;
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}${path}`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Chroma', evidence);
  const listed = await requestJson(ctx, path, { maxBytes: 1024 * 1024 });
  if (isFailure(listed)) return accessUnclear('Chroma', evidence, `the collection list gave no answer: ${listed.reason}`);
  if (refusesAnonymous(listed))
    return authRequired('Chroma', evidence, `the collection list was refused without credentials (HTTP ${listed.status})`, reproduce);
  const collections = Array.isArray(listed.json)
    ? (listed.json as unknown[]).filter((c): c is { id: string; name: string } => isRecord(c) && typeof c.id === 'string' && typeof c.name === 'string')
    : undefined;
  if (listed.status !== 200 || !collections) return accessUnclear('Chroma', evidence, `the collection list answered HTTP ${listed.status} without collections`);
  evidence.notes.push('collections listed without credentials');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const tables: TableEvidence[] = [];
    for (const c of collections.slice(0, MAX_TABLES_PER_DATABASE)) {
      const counted = await requestJson(ctx, `${path}/${encodeURIComponent(c.id)}/count`, { maxBytes: 256 });
      tables.push(!isFailure(counted) && typeof counted.json === 'number' ? { name: c.name, rows: counted.json } : { name: c.name });
    }
    evidence.databases = [{ name: 'default_database', tables, ...(collections.length > MAX_TABLES_PER_DATABASE ? { truncated: true } : {}) }];
  }
  return { auth: 'none', severity: rateExposure('none', 'data-store', evidence), title: 'Chroma open without authentication', evidence, reproduce };
}

export const chromaProbe: Probe = {
  id: 'chroma',
  service: 'chroma',
  title: 'Chroma vector database',
  ports: [8000],
  tags: ['ai', 'data-store', 'vector'],
  levels: {
    fingerprint: `GET /api/v2/heartbeat (then /api/v1/heartbeat) and expects {"${HEARTBEAT_KEY}": N}; GET /api/v2/version.`,
    'auth-check': `GET ${COLLECTIONS.v2} (v1: ${COLLECTIONS.v1}) with no credentials.`,
    metadata: 'Collection names and record counts (GET …/collections/{id}/count). Documents are never fetched or queried.',
  },
  remediation:
    'Configure an auth provider (CHROMA_SERVER_AUTHN_PROVIDER with token or basic credentials), bind Chroma to a private ' + 'interface, and firewall 8000.',
  fingerprint,
  assess,
};
