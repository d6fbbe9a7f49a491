/**
 * Milvus over its RESTful API v2 (on the gRPC port 19530). Milvus runs with authorisation off by default.
 * Every v2 call is a POST with a JSON body, including the read-only ones used here (collection list and
 * statistics); with authorisation on, Milvus answers HTTP 200 with a non-zero `code` and an authentication
 * message. With --default-credentials the documented default `root:Milvus` token is tried. Entities are never
 * queried or searched.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { MAX_TABLES_PER_DATABASE, rateExposure } from '../evidence.js';
import { isRecord, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext, type TableEvidence } from '../types.js';

const LIST = '/v2/vectordb/collections/list';
const STATS = '/v2/vectordb/collections/get_stats';
/** Milvus's documented default superuser, sent as the v2 API's `user:password` bearer token. */
const DEFAULT_LOGIN = { user: 'root', password: 'Milvus' };

type MilvusAnswer = { kind: 'collections'; names: string[] } | { kind: 'refused'; message: string };

function readAnswer(reply: JsonReply): MilvusAnswer | undefined {
  const body = reply.json;
  if (!isRecord(body) || !Number.isInteger(body.code) || Object.keys(body).some((k) => !['code', 'data', 'message'].includes(k))) return undefined;
  if (body.code === 0 && Array.isArray(body.data) && body.data.every((n) => typeof n === 'string'))
    return { kind: 'collections', names: body.data as string[] };
  if (body.code !== 0 && typeof body.message === 'string' && /authenticat|authoriz|credential|password|token/i.test(body.message))
    return { kind: 'refused', message: body.message };
  return undefined;
}

const list = (ctx: ProbeContext, headers?: Record<string, string>) => requestJson(ctx, LIST, { method: 'POST', body: {}, headers, maxBytes: 256 * 1024 });

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await list(ctx);
  if (isFailure(reply) || reply.status !== 200) return undefined;
  const answer = readAnswer(reply);
  if (!answer) return undefined;
  return { service: 'milvus', ...(answer.kind === 'refused' ? { details: { authRequired: true } } : {}) };
}

async function assess(ctx: ProbeContext, _fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { notes: [] };
  const reproduce = `curl -s -X POST http://${ctx.host}:${ctx.port}${LIST} -H 'content-type: application/json' -d '{}'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Milvus', evidence);
  let auth: AuthState = 'none';
  let headers: Record<string, string> | undefined;
  const reply = await list(ctx);
  if (isFailure(reply)) return accessUnclear('Milvus', evidence, `the collection list gave no answer: ${reply.reason}`);
  let answer = readAnswer(reply);
  if (answer?.kind === 'refused') {
    const why = `the collection list was refused without credentials (code ${(reply.json as { code: number }).code})`;
    if (!ctx.defaultCredentials || !levelAllowed('default-credentials', ctx.maxLevel)) return authRequired('Milvus', evidence, why, reproduce);
    headers = { authorization: `Bearer ${DEFAULT_LOGIN.user}:${DEFAULT_LOGIN.password}` };
    const tried = await list(ctx, headers);
    answer = isFailure(tried) ? undefined : readAnswer(tried);
    if (answer?.kind !== 'collections') return authRequired('Milvus', evidence, `${why}; the documented default root login was refused`, reproduce);
    auth = 'default-credentials';
    evidence.credentialsAccepted = `${DEFAULT_LOGIN.user}:published default password`;
  }
  if (answer?.kind !== 'collections') return accessUnclear('Milvus', evidence, `the collection list answered HTTP ${reply.status} without collections`);
  evidence.notes.push(
    auth === 'none' ? 'collections listed without credentials (authorization is off)' : 'collections listed with the documented default root login',
  );
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const tables: TableEvidence[] = [];
    for (const name of answer.names.slice(0, MAX_TABLES_PER_DATABASE)) {
      const stats = await requestJson(ctx, STATS, { method: 'POST', body: { collectionName: name }, headers, maxBytes: 16 * 1024 });
      const rows = !isFailure(stats) && isRecord(stats.json) && stats.json.code === 0 && isRecord(stats.json.data) ? stats.json.data.rowCount : undefined;
      tables.push(typeof rows === 'number' ? { name, rows } : { name });
    }
    evidence.databases = [{ name: 'default', tables, ...(answer.names.length > MAX_TABLES_PER_DATABASE ? { truncated: true } : {}) }];
  }
  const how = auth === 'none' ? 'open without authentication' : 'open with the documented default root login';
  return { auth, severity: rateExposure(auth, 'data-store', evidence), title: `Milvus ${how}`, evidence, reproduce };
}

export const milvusProbe: Probe = {
  id: 'milvus',
  service: 'milvus',
  title: 'Milvus vector database (RESTful API v2)',
  ports: [19530],
  tags: ['ai', 'data-store', 'vector'],
  levels: {
    fingerprint: `POST ${LIST} with {} and expects {"code":0,"data":[names]} or a non-zero code with an authentication message.`,
    'auth-check': `The same POST with no Authorization header (a list call: it changes nothing).`,
    metadata: `Collection names and row counts (POST ${STATS} per collection). Entities are never queried or searched.`,
    'default-credentials': `When refused: the same POST with the bearer token ${DEFAULT_LOGIN.user}:<documented default password>.`,
  },
  remediation:
    'Enable authorisation (common.security.authorizationEnabled: true), change the root password from the default, ' +
    'enable TLS, bind Milvus to a private interface, and firewall 19530 and 9091.',
  fingerprint,
  assess,
};
