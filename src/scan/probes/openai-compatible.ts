/**
 * Model servers with an OpenAI-compatible API (vLLM, llama.cpp server, LocalAI, LiteLLM, TGI, SGLang, LM
 * Studio, ...). `GET /v1/models` with no Authorization header is the access check: a model list means anyone
 * can run inference; a 401 means an API key is configured. The server is told apart by `owned_by` and its own
 * endpoints (vLLM `/version`, llama.cpp `/props`). vLLM's `--api-key` guards only `/v1`, so on vLLM the
 * control endpoints (`/invocations`, `/sleep`, `/collective_rpc`, `/is_sleeping`, `/metrics`) are checked too,
 * with GET only: a POST-only route answers GET with 405 when it is served and reachable, 401 when guarded, and
 * 404 when absent, so nothing is ever invoked. llama.cpp keeps `/v1/models` public even with `--api-key`, so
 * there `GET /props` (guarded by the key) is the access check. Ollama also serves `/v1/models`; it is left to
 * its own probe.
 */
import { accessNotChecked, accessUnclear, authRequired, formatBytes } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';
import { answersOllamaBanner } from './ollama.js';

const MAX_MODELS_LISTED = 25;
/** vLLM routes that act when POSTed; probed with GET, which only ever answers 405, 401 or 404. */
const VLLM_POST_ROUTES = ['/invocations', '/sleep', '/wake_up', '/collective_rpc', '/reset_prefix_cache'];

interface ModelEntry {
  id?: unknown;
  object?: unknown;
  owned_by?: unknown;
  max_model_len?: unknown;
  meta?: { n_params?: unknown; size?: unknown };
}

type Flavour = 'vLLM' | 'llama.cpp server' | 'OpenAI-compatible server';

function modelList(reply: JsonReply): ModelEntry[] | undefined {
  const body = reply.json;
  if (reply.status !== 200 || !isRecord(body) || body.object !== 'list' || !Array.isArray(body.data)) return undefined;
  const models = body.data as ModelEntry[];
  return models.every((m) => isRecord(m) && typeof m.id === 'string' && m.object === 'model') ? models : undefined;
}

/** The error bodies OpenAI-compatible servers send with 401: vLLM `{"error":"Unauthorized"}`, others `{"error":{"message",...}}`. */
function isApiKeyRefusal(reply: JsonReply): boolean {
  if (reply.status !== 401 || !isRecord(reply.json)) return false;
  const error = reply.json.error;
  return error === 'Unauthorized' || (isRecord(error) && typeof error.message === 'string');
}

async function vllmVersion(ctx: ProbeContext): Promise<string | undefined> {
  const reply = await requestJson(ctx, '/version', { maxBytes: 1024 });
  if (isFailure(reply) || reply.status !== 200 || !isRecord(reply.json)) return undefined;
  const keys = Object.keys(reply.json);
  return keys.length === 1 && typeof reply.json.version === 'string' ? reply.json.version : undefined;
}

/** llama.cpp's `/props`: served (its generation settings), refused (an API key is set) or absent. */
async function llamaCppProps(ctx: ProbeContext): Promise<'served' | 'refused' | 'absent'> {
  const reply = await requestJson(ctx, '/props', { maxBytes: 64 * 1024 });
  if (isFailure(reply)) return 'absent';
  if (reply.status === 200 && isRecord(reply.json) && isRecord(reply.json.default_generation_settings)) return 'served';
  return isApiKeyRefusal(reply) ? 'refused' : 'absent';
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await requestJson(ctx, '/v1/models');
  if (isFailure(reply)) return undefined;
  const models = modelList(reply);
  if (!models && !isApiKeyRefusal(reply)) return undefined;
  if (await answersOllamaBanner(ctx)) return undefined;
  const owners = new Set((models ?? []).map((m) => m.owned_by));
  const version = await vllmVersion(ctx);
  let flavour: Flavour = 'OpenAI-compatible server';
  if (version !== undefined && (owners.has('vllm') || !models)) flavour = 'vLLM';
  else if (owners.has('llamacpp') || (await llamaCppProps(ctx)) === 'served') flavour = 'llama.cpp server';
  // A bare `{"error":"Unauthorized"}` without vLLM's /version is too little to name a model server.
  if (!models && flavour !== 'vLLM' && !isRecord((reply.json as { error?: unknown }).error)) return undefined;
  return { service: 'openai-compatible', ...(flavour === 'vLLM' ? { version } : {}), details: { product: flavour, ...(models ? {} : { authRequired: true }) } };
}

function describeModel(m: ModelEntry): string {
  const facts = [
    typeof m.meta?.size === 'number' ? formatBytes(m.meta.size) : undefined,
    typeof m.meta?.n_params === 'number' ? `${(m.meta.n_params / 1e9).toFixed(1)}B parameters` : undefined,
    typeof m.max_model_len === 'number' ? `context ${m.max_model_len}` : undefined,
  ].filter(Boolean);
  return facts.length ? `${String(m.id)} (${facts.join(', ')})` : String(m.id);
}

/** vLLM control surface reachable without the API key, by route; GET only. */
async function openVllmControls(ctx: ProbeContext): Promise<string[]> {
  const open: string[] = [];
  for (const path of VLLM_POST_ROUTES) {
    const reply = await requestJson(ctx, path, { maxBytes: 4096 });
    if (!isFailure(reply) && reply.status === 405) open.push(path);
  }
  const sleeping = await requestJson(ctx, '/is_sleeping', { maxBytes: 1024 });
  if (!isFailure(sleeping) && sleeping.status === 200 && isRecord(sleeping.json) && typeof sleeping.json.is_sleeping === 'boolean') open.push('/is_sleeping');
  const metrics = await requestJson(ctx, '/metrics', { maxBytes: 8 * 1024 });
  if (!isFailure(metrics) && metrics.status === 200 && metrics.text.includes('vllm:')) open.push('/metrics');
  return open;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const product = String(fp.details?.product ?? 'OpenAI-compatible server') as Flavour;
  const evidence: Evidence = { version: fp.version, notes: [] };
  const base = `http://${ctx.host}:${ctx.port}`;
  let reproduce = `curl -s ${base}/v1/models`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked(product, evidence);
  const reply = await requestJson(ctx, '/v1/models');
  if (isFailure(reply)) return accessUnclear(product, evidence, `/v1/models gave no answer: ${reply.reason}`);
  const models = modelList(reply);
  if (models && product === 'llama.cpp server' && (await llamaCppProps(ctx)) === 'refused') {
    reproduce = `curl -s ${base}/props`;
    return authRequired(product, evidence, '/props refused without an API key (HTTP 401); llama.cpp lists models publicly by design', reproduce);
  }
  const controls = product === 'vLLM' ? await openVllmControls(ctx) : [];
  if (controls.length) evidence.notes.push(`served without the API key: ${controls.join(', ')}`);
  if (!models) {
    if (!refusesAnonymous(reply)) return accessUnclear(product, evidence, `/v1/models answered HTTP ${reply.status} without a model list`);
    if (!controls.some((c) => c !== '/metrics'))
      return authRequired(product, evidence, `/v1/models refused without an API key (HTTP ${reply.status})`, reproduce);
    // vLLM's --api-key stops at /v1: inference through /invocations and the control routes stay open.
    evidence.notes.unshift(`/v1/models refused without an API key (HTTP ${reply.status})`);
    reproduce = `curl -s -o /dev/null -w '%{http_code}\\n' ${base}${controls[0]}   # 405: served without the API key`;
    return {
      auth: 'none',
      severity: rateExposure('none', 'code-execution'),
      title: 'vLLM requires an API key on /v1 but serves its control endpoints without it',
      evidence,
      reproduce,
    };
  }
  evidence.notes.unshift('/v1/models answered without an API key: anyone can run inference');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    evidence.notes.push(`${models.length} model(s) served`);
    for (const m of models.slice(0, MAX_MODELS_LISTED)) evidence.notes.push(`model ${describeModel(m)}`);
  }
  const title = controls.includes('/collective_rpc') ? 'vLLM open without an API key, with /collective_rpc reachable' : `${product} open without an API key`;
  return { auth: 'none', severity: rateExposure('none', 'code-execution'), title, evidence, reproduce };
}

export const openaiCompatibleProbe: Probe = {
  id: 'openai-compatible',
  service: 'openai-compatible',
  title: 'OpenAI-compatible model server (vLLM, llama.cpp, LocalAI, LiteLLM, TGI, ...)',
  ports: [8000, 8080, 4000, 1234, 30000],
  tags: ['ai', 'model-server'],
  levels: {
    fingerprint:
      'GET /v1/models and expects {"object":"list","data":[{"id",…,"object":"model"}]} or an OpenAI-style 401; GET / to leave Ollama to its probe; GET /version (vLLM) and GET /props (llama.cpp) to name the server.',
    'auth-check': `GET /v1/models with no Authorization header (on llama.cpp, GET /props, since its model list is public). On vLLM also GET ${VLLM_POST_ROUTES.join(', ')} (405 = served without the key; never POSTed), GET /is_sleeping and GET /metrics.`,
    metadata: 'Model ids, parameter counts, file sizes and context lengths from the same list. Never a completion, chat or embedding.',
  },
  remediation:
    'Start the server with an API key (vLLM --api-key, llama.cpp --api-key, LiteLLM master_key), and on vLLM also ' +
    'keep VLLM_SERVER_DEV_MODE off and put /invocations, /metrics and the control routes behind an authenticating ' +
    'proxy, since --api-key guards only /v1; bind to a private interface and firewall the port.',
  fingerprint,
  assess,
};
