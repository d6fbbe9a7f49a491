/**
 * Prometheus (9090). Prometheus has no authentication unless started with a web config, so an answering
 * server is open by design; what it shows is metadata (build, scrape targets, which name internal hosts).
 * `/api/v1/status/config` shows the loaded configuration with known secret fields masked, but credentials
 * still slip into URLs, params and labels: the configuration goes through the detector, and only counts by
 * rule are reported. Admin and lifecycle endpoints are never called.
 */
import { randomInt } from 'node:crypto';
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { inspectRows, rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext, type Severity } from '../types.js';

const TARGETS = '/api/v1/targets?state=active';

/** The `data` of a Prometheus API success envelope. */
function successData(json: unknown): Record<string, unknown> | undefined {
  return isRecord(json) && json.status === 'success' && isRecord(json.data) ? json.data : undefined;
}

/** GET /api/v1/query?query=a*b: a real Prometheus answers the scalar a·b, which no recorded answer holds. */
async function answersChallenge(ctx: ProbeContext): Promise<boolean> {
  const [a, b] = [randomInt(1000, 1_000_000), randomInt(1000, 1_000_000)];
  const reply = await requestJson(ctx, `/api/v1/query?query=${a}*${b}`, { maxBytes: 4096 });
  const data = isFailure(reply) ? undefined : successData(reply.json);
  return data?.resultType === 'scalar' && Array.isArray(data.result) && data.result[1] === String(a * b);
}

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await requestJson(ctx, '/api/v1/status/buildinfo', { maxBytes: 16 * 1024 });
  if (isFailure(reply) || reply.status !== 200) return undefined;
  const data = successData(reply.json);
  if (typeof data?.version !== 'string' || typeof data.goVersion !== 'string') return undefined;
  return { service: 'prometheus', version: data.version };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const base = `http://${ctx.host}:${ctx.port}`;
  const reproduce = `curl -s '${base}${TARGETS}'`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Prometheus', evidence);
  const targets = await requestJson(ctx, TARGETS, { maxBytes: 4 * 1024 * 1024 });
  if (isFailure(targets)) return accessUnclear('Prometheus', evidence, `the target list gave no answer: ${targets.reason}`);
  if (refusesAnonymous(targets))
    return authRequired('Prometheus', evidence, `the target list was refused without credentials (HTTP ${targets.status})`, reproduce);
  const active = successData(targets.json)?.activeTargets;
  if (!Array.isArray(active)) return accessUnclear('Prometheus', evidence, `the target list answered HTTP ${targets.status} without targets`);
  // A target list can be replayed by a look-alike; the product of two random numbers must be computed.
  if (!(await answersChallenge(ctx)))
    return accessUnclear('Prometheus', evidence, 'a PromQL query for the product of two random numbers got no right answer: no proof of access');
  evidence.notes.push('the HTTP API answered without credentials');
  let severity: Severity = rateExposure('none', 'metadata');
  let title = 'Prometheus API open without authentication (metadata)';
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const jobs = new Set(active.map((t) => (isRecord(t) && isRecord(t.labels) ? t.labels.job : undefined)).filter((j) => typeof j === 'string'));
    evidence.notes.push(`${active.length} active scrape target(s) in ${jobs.size} job(s); target addresses name internal hosts`);
    const config = await requestJson(ctx, '/api/v1/status/config', { maxBytes: 2 * 1024 * 1024 });
    const yaml = isFailure(config) ? undefined : successData(config.json)?.yaml;
    if (typeof yaml === 'string') {
      const { credentials } = inspectRows([{ yaml }], ctx.detector);
      evidence.databases = [{ name: 'configuration', tables: [{ name: 'prometheus.yml', credentials }] }];
      if (credentials.total > 0) {
        // Credentials readable by anyone, not just metadata: rated like an open data store.
        severity = rateExposure('none', 'data-store');
        title = 'Prometheus API open without authentication, its configuration holds credentials';
        evidence.notes.push(`the loaded configuration holds ${credentials.total} credential(s) in unmasked fields`);
      }
    }
  }
  return { auth: 'none', severity, title, evidence, reproduce };
}

export const prometheusProbe: Probe = {
  id: 'prometheus',
  service: 'prometheus',
  title: 'Prometheus',
  ports: [9090],
  tags: ['observability', 'metadata'],
  levels: {
    fingerprint: 'GET /api/v1/status/buildinfo and expects a success envelope with version and goVersion.',
    'auth-check': `GET ${TARGETS} with no credentials, then GET /api/v1/query?query=a*b (two random numbers): open only when the answer is their product.`,
    metadata:
      'Active target and job counts from the same answer; GET /api/v1/status/config, whose YAML goes through the detector (credential counts by rule, never values). Never /api/v1/admin/*, /-/reload or /-/quit.',
  },
  remediation:
    'Put Prometheus behind authentication (--web.config.file with basic_auth_users and TLS, or an authenticating proxy), ' +
    'keep credentials out of URLs, params and labels (use basic_auth/authorization with *_file fields), bind it to a ' +
    'private interface, and firewall 9090.',
  fingerprint,
  assess,
};
