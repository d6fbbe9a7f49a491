/**
 * The Ray dashboard and its Jobs API (8265). Ray has no authentication of its own in most releases, and the
 * Jobs API runs any shell command submitted to it, so an open dashboard is a code-execution surface
 * (ShadowRay, CVE-2023-48022). `GET /api/version` identifies it; `GET /api/jobs/` is the read-only proof.
 * Job entrypoints and runtime environments are never reported: they often carry credentials.
 */
import { accessNotChecked, accessUnclear, authRequired } from '../assessments.js';
import { rateExposure } from '../evidence.js';
import { isRecord, refusesAnonymous, requestJson } from '../transports/json-http.js';
import { isFailure } from '../transports/result.js';
import { levelAllowed, type Assessment, type Evidence, type Fingerprint, type Probe, type ProbeContext } from '../types.js';

async function fingerprint(ctx: ProbeContext): Promise<Fingerprint | undefined> {
  const reply = await requestJson(ctx, '/api/version', { maxBytes: 4096 });
  if (isFailure(reply) || reply.status !== 200 || !isRecord(reply.json)) return undefined;
  const { ray_version: version, ray_commit: commit } = reply.json;
  if (typeof version !== 'string' || typeof commit !== 'string') return undefined;
  return { service: 'ray', version };
}

async function assess(ctx: ProbeContext, fp: Fingerprint): Promise<Assessment> {
  const evidence: Evidence = { version: fp.version, notes: [] };
  const reproduce = `curl -s http://${ctx.host}:${ctx.port}/api/jobs/`;
  if (!levelAllowed('auth-check', ctx.maxLevel)) return accessNotChecked('Ray dashboard', evidence);
  const jobs = await requestJson(ctx, '/api/jobs/', { maxBytes: 1024 * 1024 });
  if (isFailure(jobs)) return accessUnclear('Ray dashboard', evidence, `/api/jobs/ gave no answer: ${jobs.reason}`);
  if (refusesAnonymous(jobs)) return authRequired('Ray dashboard', evidence, `/api/jobs/ refused without credentials (HTTP ${jobs.status})`, reproduce);
  if (jobs.status !== 200 || !Array.isArray(jobs.json))
    return accessUnclear('Ray dashboard', evidence, `/api/jobs/ answered HTTP ${jobs.status} without a job list`);
  evidence.notes.push('the Jobs API answered without credentials: anyone can submit a job, which runs a shell command on the cluster');
  if (levelAllowed('metadata', ctx.maxLevel)) {
    const byStatus: Record<string, number> = {};
    for (const job of jobs.json) {
      const status = isRecord(job) && typeof job.status === 'string' ? job.status : 'UNKNOWN';
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
    const counts = Object.entries(byStatus)
      .map(([s, n]) => `${n} ${s}`)
      .join(', ');
    evidence.notes.push(`${jobs.json.length} job(s)${counts ? `: ${counts}` : ''} (entrypoints and runtime environments not reported)`);
  }
  return {
    auth: 'none',
    severity: rateExposure('none', 'code-execution'),
    title: 'Ray Jobs API open without authentication (code execution)',
    evidence,
    reproduce,
  };
}

export const rayProbe: Probe = {
  id: 'ray',
  service: 'ray',
  title: 'Ray dashboard and Jobs API',
  ports: [8265],
  tags: ['ai', 'code-execution'],
  levels: {
    fingerprint: 'GET /api/version and expects JSON with ray_version and ray_commit.',
    'auth-check': 'GET /api/jobs/ (the job list) with no credentials. Never POST: submitting a job runs code.',
    metadata: 'The job count by status. Entrypoints, runtime environments and logs are never read into the report.',
  },
  remediation:
    'Never expose the Ray dashboard (8265), GCS (6379) or Ray Client (10001) ports beyond the cluster: bind the ' +
    'dashboard to 127.0.0.1 (--dashboard-host), enable Ray token authentication where available or front it with an ' +
    'authenticating proxy, and firewall the cluster ports.',
  fingerprint,
  assess,
};
