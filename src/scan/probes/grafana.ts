/**
 * Grafana (3000). `GET /api/health` answers everyone with the version; `GET /api/org` needs a session unless
 * anonymous access is on. With --default-credentials the first-start login admin/admin is tried. Dashboards
 * are counted, never opened; data sources are counted, never proxied or queried.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { basicAuth, isRecord, refusesAnonymous, requestJson } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type AuthState, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

const DEFAULT_LOGIN = { user: 'admin', password: 'admin' };
const DASHBOARDS = '/api/search?type=dash-db&limit=5000';

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const health = await requestJson(ctx, '/api/health', { maxBytes: 4096 });
  if (isFailure(health) || !isRecord(health.json)) return undefined;
  const { database, version, commit } = health.json;
  if (typeof database !== 'string' || typeof commit !== 'string') return undefined;
  return { service: 'grafana', ...(typeof version === 'string' ? { version } : {}) };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const base = `http://${ctx.host}:${ctx.port}`;
  let reproduce = `curl -s ${base}/api/org`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Grafana', evidence);
  let auth: AuthState = 'none';
  let headers: Record<string, string> | undefined;
  let org = await requestJson(ctx, '/api/org', { maxBytes: 16 * 1024 });
  if (isFailure(org)) return accessUnclear('Grafana', evidence, `/api/org gave no answer: ${org.reason}`);
  if (refusesAnonymous(org)) {
    const why = `/api/org refused without a session (HTTP ${org.status}): anonymous access is off`;
    if (!ctx.defaultCredentials || !levelAllowed('default-credentials', ctx.maxLevel)) return authRequired('Grafana', evidence, why, reproduce);
    headers = basicAuth(DEFAULT_LOGIN.user, DEFAULT_LOGIN.password);
    const tried = await requestJson(ctx, '/api/org', { headers, maxBytes: 16 * 1024 });
    if (isFailure(tried) || tried.status !== 200) return authRequired('Grafana', evidence, `${why}; admin/admin was refused`, reproduce);
    auth = 'default-credentials';
    org = tried;
    evidence.credentialsAccepted = `${DEFAULT_LOGIN.user}:published default password`;
    evidence.user = DEFAULT_LOGIN.user;
    // curl prompts for the password, so the command carries no secret.
    reproduce = `curl -s -u ${DEFAULT_LOGIN.user} ${base}/api/org`;
  }
  if (org.status !== 200 || !isRecord(org.json) || typeof org.json.name !== 'string')
    return accessUnclear('Grafana', evidence, `/api/org answered HTTP ${org.status} without an organisation`);
  evidence.notes.push(
    auth === 'none' ? `anonymous access is on (organisation ${org.json.name})` : `the first-start admin login still works (organisation ${org.json.name})`,
  );
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const dashboards = await requestJson(ctx, DASHBOARDS, { headers, maxBytes: 2 * 1024 * 1024 });
    if (!isFailure(dashboards) && Array.isArray(dashboards.json)) evidence.notes.push(`${dashboards.json.length} dashboard(s) visible`);
    const sources = await requestJson(ctx, '/api/datasources', { headers, maxBytes: 1024 * 1024 });
    if (!isFailure(sources) && Array.isArray(sources.json))
      evidence.notes.push(`${sources.json.length} data source(s) visible, each queryable through Grafana`);
  }
  const title = auth === 'none' ? 'Grafana allows anonymous access' : 'Grafana accepts the default admin/admin login';
  return { auth, severity: rateExposure(auth, 'dashboard'), title, evidence, reproduce };
}

export const grafanaProbe: Probe = {
  id: 'grafana',
  service: 'grafana',
  title: 'Grafana',
  ports: [3000],
  tags: ['dashboard', 'observability'],
  levels: {
    fingerprint: 'GET /api/health and expects JSON with database and commit.',
    'auth-check': 'GET /api/org with no session or credentials (answers only with anonymous access on).',
    metadata: `Counts only: dashboards (GET ${DASHBOARDS}) and data sources (GET /api/datasources). Nothing is proxied or queried.`,
    'default-credentials': 'When refused: GET /api/org with Basic admin/admin (the first-start login).',
  },
  remediation:
    'Change the admin password (or set GF_SECURITY_ADMIN_PASSWORD before first start), turn anonymous access off ' +
    '([auth.anonymous] enabled = false) unless dashboards are meant to be public, put Grafana behind SSO, and ' +
    'firewall 3000.',
  fingerprint,
  assess,
};
