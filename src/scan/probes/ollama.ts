/**
 * Ollama's REST API (11434). Ollama has no authentication of its own: whoever reaches it can run, pull,
 * push and delete models. `GET /` answers a fixed banner and `/api/version` the version; the model list
 * (`/api/tags`) proves the API is open. Inference is never run and no model is pulled.
 */
import { accessNotChecked, accessUnclear, authRequired, formatBytes } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const BANNER = 'Ollama is running';
const MAX_MODELS_LISTED = 25;

interface OllamaModel {
  name?: unknown;
  size?: unknown;
  details?: { parameter_size?: unknown; quantization_level?: unknown };
}

/** True when GET / answers Ollama's fixed banner; shared with the OpenAI-compatible probe, which leaves Ollama to this one. */
export async function answersOllamaBanner(ctx: ProbeContext): Promise<boolean> {
  const root = await requestJson(ctx, '/', { maxBytes: 1024 });
  return !isFailure(root) && root.status === 200 && root.text.trim() === BANNER;
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  if (!(await answersOllamaBanner(ctx))) return undefined;
  const version = await requestJson(ctx, '/api/version', { maxBytes: 1024 });
  if (isFailure(version)) return undefined;
  if (refusesAnonymous(version)) return { service: 'ollama', details: { authRequired: true } };
  if (!isRecord(version.json) || typeof version.json.version !== 'string') return undefined;
  return { service: 'ollama', version: version.json.version };
}

function describeModel(m: OllamaModel): string {
  const facts = [
    typeof m.size === 'number' ? formatBytes(m.size) : undefined,
    typeof m.details?.parameter_size === 'string' ? `${m.details.parameter_size} parameters` : undefined,
    typeof m.details?.quantization_level === 'string' ? m.details.quantization_level : undefined,
  ].filter(Boolean);
  return facts.length ? `${String(m.name)} (${facts.join(', ')})` : String(m.name);
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}/api/tags`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Ollama', evidence);
  const tags = await requestJson(ctx, '/api/tags');
  if (isFailure(tags)) return accessUnclear('Ollama', evidence, `/api/tags gave no answer: ${tags.reason}`);
  if (refusesAnonymous(tags))
    return authRequired('Ollama', evidence, `/api/tags refused without credentials (HTTP ${tags.status}): a proxy guards the API`, reproduce);
  const models =
    isRecord(tags.json) && Array.isArray(tags.json.models) ? (tags.json.models as OllamaModel[]).filter((m) => typeof m?.name === 'string') : undefined;
  if (tags.status !== 200 || !models) return accessUnclear('Ollama', evidence, `/api/tags answered HTTP ${tags.status} without a model list`);
  evidence.notes.push('/api/tags answered without credentials: anyone can run inference and pull or delete models');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const total = models.reduce((sum, m) => sum + (typeof m.size === 'number' ? m.size : 0), 0);
    evidence.notes.push(`${models.length} model(s) served, ${formatBytes(total)} in total`);
    for (const m of models.slice(0, MAX_MODELS_LISTED)) evidence.notes.push(`model ${describeModel(m)}`);
    const running = await requestJson(ctx, '/api/ps');
    if (!isFailure(running) && isRecord(running.json) && Array.isArray(running.json.models))
      evidence.notes.push(`${running.json.models.length} model(s) loaded in memory`);
  }
  return { auth: 'none', severity: rateExposure('none', 'code-execution'), title: 'Ollama API open without authentication', evidence, reproduce };
}

export const ollamaProbe: Probe = {
  id: 'ollama',
  service: 'ollama',
  title: 'Ollama',
  ports: [11434],
  tags: ['ai', 'model-server'],
  levels: {
    fingerprint: `GET / and expects the banner "${BANNER}", then GET /api/version (JSON with version, or 401/403 from a proxy).`,
    'auth-check': 'GET /api/tags (the model list) with no credentials.',
    metadata:
      'Model names, sizes, parameter counts and quantisation from that list; GET /api/ps for the count of loaded models. Never generate, chat, embed, pull, push, create or delete.',
  },
  remediation:
    'Bind Ollama to loopback (OLLAMA_HOST=127.0.0.1:11434, the default) or a private interface, and put an ' +
    'authenticating reverse proxy in front of it when other hosts need it; firewall 11434 from untrusted networks.',
  fingerprint,
  assess,
};
