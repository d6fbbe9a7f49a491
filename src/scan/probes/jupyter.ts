/**
 * Jupyter Server, Notebook and Lab (8888). `GET /api` answers the server version to anyone; the kernel list
 * needs the token or password, and a server that answers it without one lets anyone start a kernel and run
 * code. Nothing is started: only lists are read.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { header } from '../transports/http.js';
import { isRecord, refusesAnonymous, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

/** Jupyter's refusal: 403 (or 401) with `{"message": "Forbidden", "reason": null}`. */
const isJupyterRefusal = (reply: JsonReply) =>
  refusesAnonymous(reply) && isRecord(reply.json) && typeof reply.json.message === 'string' && 'reason' in reply.json;

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const api = await requestJson(ctx, '/api', { maxBytes: 4096 });
  if (isFailure(api) || api.status !== 200 || !isRecord(api.json)) return undefined;
  const keys = Object.keys(api.json);
  if (keys.length !== 1 || typeof api.json.version !== 'string') return undefined;
  // `{"version": …}` alone is common; Jupyter also runs on Tornado and guards /api/kernels its own way.
  const kernels = await requestJson(ctx, '/api/kernels', { maxBytes: 256 * 1024 });
  const tornado = /TornadoServer/i.test(header(api, 'server') ?? '');
  if (isFailure(kernels) || !(tornado || Array.isArray(kernels.json) || isJupyterRefusal(kernels))) return undefined;
  return { service: 'jupyter', version: api.json.version };
}

/** Kernel models as Jupyter lists them: each with a string id and name. */
const isKernelList = (json: unknown): json is unknown[] =>
  Array.isArray(json) && json.every((k) => isRecord(k) && typeof k.id === 'string' && typeof k.name === 'string');

async function count(ctx: ProbeContext, path: string): Promise<number | undefined> {
  const reply = await requestJson(ctx, path, { maxBytes: 1024 * 1024 });
  if (isFailure(reply) || reply.status !== 200) return undefined;
  if (Array.isArray(reply.json)) return reply.json.length;
  return isRecord(reply.json) && Array.isArray(reply.json.content) ? reply.json.content.length : undefined;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}/api/kernels`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Jupyter', evidence);
  const kernels = await requestJson(ctx, '/api/kernels', { maxBytes: 256 * 1024 });
  if (isFailure(kernels)) return accessUnclear('Jupyter', evidence, `/api/kernels gave no answer: ${kernels.reason}`);
  if (refusesAnonymous(kernels)) return authRequired('Jupyter', evidence, `/api/kernels refused without a token (HTTP ${kernels.status})`, reproduce);
  if (kernels.status !== 200 || !isKernelList(kernels.json))
    return accessUnclear('Jupyter', evidence, `/api/kernels answered HTTP ${kernels.status} without a kernel list`);
  // `[]` is one plausible byte string: the root folder model is a second answer only an authorised client gets.
  const root = await requestJson(ctx, '/api/contents', { maxBytes: 1024 * 1024 });
  if (isFailure(root) || root.status !== 200 || !isRecord(root.json) || root.json.type !== 'directory' || !Array.isArray(root.json.content)) {
    return accessUnclear('Jupyter', evidence, '/api/kernels answered a list, but /api/contents gave no folder model: no proof of access');
  }
  evidence.notes.push('/api/kernels answered without a token: anyone can start a kernel and run code');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    evidence.notes.push(`${kernels.json.length} kernel(s) running`);
    const sessions = await count(ctx, '/api/sessions');
    if (sessions !== undefined) evidence.notes.push(`${sessions} session(s)`);
    const entries = await count(ctx, '/api/contents?content=1');
    if (entries !== undefined) evidence.notes.push(`${entries} entr${entries === 1 ? 'y' : 'ies'} in the root folder (names not reported)`);
  }
  return { auth: 'none', severity: rateExposure('none', 'code-execution'), title: 'Jupyter open without a token (code execution)', evidence, reproduce };
}

export const jupyterProbe: Probe = {
  id: 'jupyter',
  service: 'jupyter',
  title: 'Jupyter Server / Notebook / Lab',
  ports: [8888],
  tags: ['ai', 'code-execution', 'notebook'],
  levels: {
    fingerprint: 'GET /api (expects only {"version"}) and GET /api/kernels (a list or Jupyter\'s 403), or a TornadoServer header.',
    'auth-check':
      'GET /api/kernels (a list of kernel models) and GET /api/contents (the root folder model) with no token; open only when both answer. Never POST: starting a kernel or terminal runs code.',
    metadata: 'Counts only: running kernels, sessions (GET /api/sessions), entries in the root folder (GET /api/contents?content=1).',
  },
  remediation:
    "Never run Jupyter with an empty token or password (ServerApp.token, ServerApp.password; avoid --NotebookApp.token=''), " +
    'bind it to 127.0.0.1 and reach it through SSH tunnels or JupyterHub with authentication, and firewall 8888.',
  fingerprint,
  assess,
};
