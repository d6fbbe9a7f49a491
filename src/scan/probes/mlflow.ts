/**
 * MLflow tracking server (5000). MLflow has no authentication unless started with `--app-name basic-auth`;
 * an open server lets anyone read experiments, runs and artifacts and register or replace models. The
 * experiment search is the proof; with --default-credentials the basic-auth app's published default admin
 * login is tried. Artifacts are never downloaded.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { basicAuth, isRecord, refusesAnonymous, requestJson, type JsonReply } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const EXPERIMENTS = '/api/2.0/mlflow/experiments/search?max_results=100';
const REGISTERED_MODELS = '/api/2.0/mlflow/registered-models/search?max_results=100';
/** The basic-auth app's default admin (basic_auth.ini: admin_username / admin_password). */
const DEFAULT_LOGIN = { user: 'admin', password: 'password1234' };
const MAX_NAMES = 50;

const isMlflowRefusal = (reply: JsonReply) => reply.status === 401 && /mlflow/i.test(`${reply.text} ${String(reply.headers['www-authenticate'] ?? '')}`);

function experimentNames(reply: JsonReply): string[] | undefined {
  if (reply.status !== 200 || !isRecord(reply.json)) return undefined;
  const list = reply.json.experiments ?? [];
  if (!Array.isArray(list) || !list.every((e) => isRecord(e) && typeof e.experiment_id === 'string')) return undefined;
  return list.map((e) => String((e as { name?: unknown }).name));
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const search = await requestJson(ctx, EXPERIMENTS);
  if (isFailure(search) || !(experimentNames(search) || isMlflowRefusal(search))) return undefined;
  const version = await requestJson(ctx, '/version', { maxBytes: 256 });
  if (isFailure(version)) return undefined;
  const number = version.text.trim();
  if (version.status === 200 && /^\d+\.\d+\.\d+\S*$/.test(number))
    return { service: 'mlflow', version: number, ...(isMlflowRefusal(search) ? { details: { authRequired: true } } : {}) };
  return isMlflowRefusal(search) && refusesAnonymous(version) ? { service: 'mlflow', details: { authRequired: true } } : undefined;
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const base = `http://${ctx.host}:${ctx.port}`;
  let reproduce = `curl -s '${base}${EXPERIMENTS}'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('MLflow', evidence);
  let auth: AuthState = 'none';
  let headers: Record<string, string> | undefined;
  let search = await requestJson(ctx, EXPERIMENTS);
  if (isFailure(search)) return accessUnclear('MLflow', evidence, `experiment search gave no answer: ${search.reason}`);
  if (refusesAnonymous(search)) {
    const why = `experiment search refused without credentials (HTTP ${search.status})`;
    if (!ctx.defaultCredentials || !levelAllowed('default-credentials', ctx.maxLevel)) return authRequired('MLflow', evidence, why, reproduce);
    headers = basicAuth(DEFAULT_LOGIN.user, DEFAULT_LOGIN.password);
    const tried = await requestJson(ctx, EXPERIMENTS, { headers });
    if (isFailure(tried) || tried.status !== 200) return authRequired('MLflow', evidence, `${why}; the published default admin login was refused`, reproduce);
    auth = 'default-credentials';
    search = tried;
    evidence.credentialsAccepted = `${DEFAULT_LOGIN.user}:published default password`;
    // curl prompts for the password, so the command carries no secret.
    reproduce = `curl -s -u ${DEFAULT_LOGIN.user} '${base}${EXPERIMENTS}'`;
  }
  const experiments = experimentNames(search);
  if (!experiments) return accessUnclear('MLflow', evidence, `experiment search answered HTTP ${search.status} without experiments`);
  evidence.notes.push(auth === 'none' ? 'experiment search answered without credentials' : 'experiment search answered with the published default admin login');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const models = await requestJson(ctx, REGISTERED_MODELS, { headers });
    const registered = !isFailure(models) && isRecord(models.json) && models.status === 200 ? ((models.json.registered_models ?? []) as unknown[]) : undefined;
    const more = isRecord(search.json) && typeof search.json.next_page_token === 'string' ? ' (more than one page)' : '';
    evidence.databases = [
      {
        name: 'experiments',
        tables: experiments.slice(0, MAX_NAMES).map((name) => ({ name })),
        ...(experiments.length > MAX_NAMES || more ? { truncated: true } : {}),
      },
    ];
    evidence.notes.push(`${experiments.length} experiment(s)${more}`);
    if (Array.isArray(registered)) evidence.notes.push(`${registered.length} registered model(s)`);
  }
  const how = auth === 'none' ? 'open without authentication' : 'open with the published default admin login';
  return { auth, severity: rateExposure(auth, 'data-store', evidence), title: `MLflow ${how}`, evidence, reproduce };
}

export const mlflowProbe: Probe = {
  id: 'mlflow',
  service: 'mlflow',
  title: 'MLflow tracking server',
  ports: [5000],
  tags: ['ai', 'data-store', 'model-registry'],
  levels: {
    fingerprint: `GET ${EXPERIMENTS} (experiments, or MLflow's basic-auth 401) and GET /version (a version number).`,
    'auth-check': `GET ${EXPERIMENTS} with no credentials.`,
    metadata: `Experiment names (up to ${MAX_NAMES}) and the registered-model count (GET ${REGISTERED_MODELS}). Artifacts and run data are never read.`,
    'default-credentials': `When refused: the same GET with Basic ${DEFAULT_LOGIN.user} and the basic-auth app's published default password.`,
  },
  remediation:
    'Run the tracking server with authentication (mlflow server --app-name basic-auth, with the default admin password ' +
    'changed in basic_auth.ini, or behind an authenticating proxy), bind it to a private interface (--host), and ' +
    'firewall 5000.',
  fingerprint,
  assess,
};
