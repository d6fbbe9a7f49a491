/**
 * A Ray dashboard test server following Ray's documented Jobs REST API
 * (https://docs.ray.io/en/latest/cluster/running-applications/job-submission/rest.html): `GET /api/version`
 * ({version, ray_version, ray_commit, session_name}) and `GET /api/jobs/` (a list of job details with job_id,
 * submission_id, status, entrypoint, runtime_env). Locked mode stands for token authentication or an
 * authenticating proxy that still lets the version endpoint through for health checks.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export interface RayJobSpec {
  status: 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';
  entrypoint: string;
}

export function startTestRay(opts: { mode: ApiMode; jobs?: RayJobSpec[]; port?: number }): Promise<TestApi> {
  const jobs = (opts.jobs ?? []).map((j, i) => ({
    type: 'SUBMISSION',
    job_id: `0${i}000000`,
    submission_id: `raysubmit_${i}`,
    status: j.status,
    entrypoint: j.entrypoint,
    runtime_env: { env_vars: { STAGE: 'prod' } },
    metadata: {},
  }));
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    if (req.method !== 'GET') return { status: 405, body: { error: 'the test server never runs jobs' } };
    if (req.url.pathname === '/api/version')
      return { body: { version: '4', ray_version: '2.9.3', ray_commit: '62655e1d1e7c5e9e3f2a8f0b1c3d4e5f6a7b8c9d', session_name: 'session_2025-01-20' } };
    if (!req.authorised) return { status: 401, body: 'Unauthorized' };
    if (req.url.pathname === '/api/jobs/') return { body: jobs };
    return notFound;
  });
}
