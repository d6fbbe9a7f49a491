/**
 * TorchServe's management API (8081). Whoever reaches it can register a model archive from a URL, and a model
 * archive is code, so an open management API is a code-execution surface (ShellTorch, CVE-2023-43654).
 * `GET /api-description` names it; `GET /models` lists the registered models. Nothing is registered, scaled or
 * deleted.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const MAX_MODELS_LISTED = 25;

/** TorchServe's token authorisation (on by default since 0.11) refuses with this message. */
const isTokenRefusal = (reply: JsonReply) => reply.status >= 400 && reply.status < 500 && /Token Authorization failed/i.test(reply.text);

function registeredModels(reply: JsonReply): string[] | undefined {
  if (reply.status !== 200 || !isRecord(reply.json) || !Array.isArray(reply.json.models)) return undefined;
  const models = reply.json.models as unknown[];
  return models.every((m) => isRecord(m) && typeof m.modelName === 'string' && typeof m.modelUrl === 'string')
    ? models.map((m) => String((m as { modelName: string }).modelName))
    : undefined;
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const models = await requestJson(ctx, '/models');
  if (isFailure(models)) return undefined;
  if (isTokenRefusal(models)) return { service: 'torchserve', details: { authRequired: true } };
  if (!registeredModels(models)) return undefined;
  const description = await requestJson(ctx, '/api-description', { maxBytes: 512 * 1024 });
  if (isFailure(description) || !isRecord(description.json) || !isRecord(description.json.info)) return undefined;
  const { title, version } = description.json.info;
  if (typeof title !== 'string' || !/TorchServe/i.test(title)) return undefined;
  return { service: 'torchserve', ...(typeof version === 'string' ? { version } : {}) };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}/models`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('TorchServe management API', evidence);
  const reply = await requestJson(ctx, '/models');
  if (isFailure(reply)) return accessUnclear('TorchServe management API', evidence, `/models gave no answer: ${reply.reason}`);
  if (isTokenRefusal(reply) || refusesAnonymous(reply))
    return authRequired('TorchServe management API', evidence, `/models refused without a token (HTTP ${reply.status})`, reproduce);
  const models = registeredModels(reply);
  if (!models) return accessUnclear('TorchServe management API', evidence, `/models answered HTTP ${reply.status} without a model list`);
  evidence.notes.push('the management API answered without a token: anyone can register a model archive, which runs code');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    evidence.notes.push(`${models.length} model(s) registered`);
    for (const name of models.slice(0, MAX_MODELS_LISTED)) evidence.notes.push(`model ${name}`);
  }
  return {
    auth: 'none',
    severity: rateExposure('none', 'code-execution'),
    title: 'TorchServe management API open without a token (code execution)',
    evidence,
    reproduce,
  };
}

export const torchserveProbe: Probe = {
  id: 'torchserve',
  service: 'torchserve',
  title: 'TorchServe management API',
  ports: [8081],
  tags: ['ai', 'model-server', 'code-execution'],
  levels: {
    fingerprint:
      'GET /models (expects {"models":[{"modelName","modelUrl"}]} or TorchServe\'s token refusal) and GET /api-description (OpenAPI titled TorchServe).',
    'auth-check': 'GET /models with no token. Never POST, PUT or DELETE: registering a model runs code.',
    metadata: 'Registered model names from the same list.',
  },
  remediation:
    'Keep token authorisation on (the default since TorchServe 0.11; never --disable-token-auth), bind the management ' +
    'API to 127.0.0.1 (management_address=http://127.0.0.1:8081), restrict allowed_urls, and firewall 8081.',
  fingerprint,
  assess,
};
