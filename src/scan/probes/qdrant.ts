/**
 * Qdrant's REST API (6333). `GET /` names the engine and its version and stays open even with an API key
 * set; `GET /collections` needs the key. Collection point counts come from `GET /collections/{name}`; points
 * themselves are never scrolled or searched.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const root = await requestJson(ctx, '/', { maxBytes: 4096 });
  if (isFailure(root) || root.status !== 200 || !isRecord(root.json)) return undefined;
  const { title, version } = root.json;
  if (typeof title !== 'string' || !/^qdrant\b/i.test(title) || typeof version !== 'string') return undefined;
  return { service: 'qdrant', version };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}/collections`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Qdrant', evidence);
  const listed = await requestJson(ctx, '/collections');
  if (isFailure(listed)) return accessUnclear('Qdrant', evidence, `/collections gave no answer: ${listed.reason}`);
  if (refusesAnonymous(listed)) return authRequired('Qdrant', evidence, `/collections refused without an API key (HTTP ${listed.status})`, reproduce);
  const result = isRecord(listed.json) && isRecord(listed.json.result) ? listed.json.result : undefined;
  if (listed.status !== 200 || !Array.isArray(result?.collections))
    return accessUnclear('Qdrant', evidence, `/collections answered HTTP ${listed.status} without a collection list`);
  const names = (result.collections as unknown[]).map((c) => (isRecord(c) ? c.name : undefined)).filter((n): n is string => typeof n === 'string');
  evidence.notes.push('/collections answered without an API key');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const tables: TableEvidence[] = [];
    for (const name of names.slice(0, MAX_TABLES_PER_DATABASE)) {
      const info = await requestJson(ctx, `/collections/${encodeURIComponent(name)}`, { maxBytes: 64 * 1024 });
      const points = !isFailure(info) && isRecord(info.json) && isRecord(info.json.result) ? info.json.result.points_count : undefined;
      tables.push(typeof points === 'number' ? { name, rows: points } : { name });
    }
    evidence.databases = [{ name: 'collections', tables, ...(names.length > MAX_TABLES_PER_DATABASE ? { truncated: true } : {}) }];
  }
  return { auth: 'none', severity: rateExposure('none', 'data-store', evidence), title: 'Qdrant open without an API key', evidence, reproduce };
}

export const qdrantProbe: Probe = {
  id: 'qdrant',
  service: 'qdrant',
  title: 'Qdrant vector database',
  ports: [6333],
  tags: ['ai', 'data-store', 'vector'],
  levels: {
    fingerprint: 'GET / and expects {"title":"qdrant - vector search engine","version":…}.',
    'auth-check': 'GET /collections with no api-key header.',
    metadata: 'Collection names and point counts (GET /collections/{name}). Points are never scrolled, searched or downloaded.',
  },
  remediation:
    'Set service.api_key (QDRANT__SERVICE__API_KEY) and a read-only key where needed, enable TLS, bind Qdrant to a ' +
    'private interface, and firewall 6333/6334.',
  fingerprint,
  assess,
};
