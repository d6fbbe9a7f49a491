/**
 * An MLflow tracking-server test server following the documented REST API
 * (https://mlflow.org/docs/latest/rest-api.html): `GET /api/2.0/mlflow/experiments/search` ({experiments:
 * [{experiment_id, name, artifact_location, lifecycle_stage}]}), `GET /api/2.0/mlflow/registered-models/search`
 * ({registered_models: [{name}]}) and `GET /version` (the version as plain text). Locked mode is the
 * basic-auth app (https://mlflow.org/docs/latest/auth/index.html): 401 with `WWW-Authenticate: Basic
 * realm="mlflow"` unless the configured login is sent.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export interface TestMlflowOptions {
  mode: ApiMode;
  experiments?: string[];
  models?: string[];
  /** Locked mode: the accepted `user:password`. */
  login?: string;
  port?: number;
}

export function startTestMlflow(opts: TestMlflowOptions): Promise<TestApi> {
  const authorization = opts.login ? `Basic ${Buffer.from(opts.login).toString('base64')}` : undefined;
  return startTestApi({ mode: opts.mode, authorization, port: opts.port }, (req) => {
    if (!req.authorised) {
      return {
        status: 401,
        body: 'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.',
        headers: { 'www-authenticate': 'Basic realm="mlflow"' },
      };
    }
    if (req.method !== 'GET') return { status: 405, body: { error_code: 'BAD_REQUEST', message: 'the test server writes nothing' } };
    const path = req.url.pathname;
    if (path === '/version') return { body: '2.19.0' };
    if (path === '/api/2.0/mlflow/experiments/search') {
      return {
        body: {
          experiments: (opts.experiments ?? []).map((name, i) => ({
            experiment_id: String(i),
            name,
            artifact_location: `mlflow-artifacts:/${i}`,
            lifecycle_stage: 'active',
          })),
        },
      };
    }
    if (path === '/api/2.0/mlflow/registered-models/search')
      return { body: (opts.models ?? []).length ? { registered_models: opts.models!.map((name) => ({ name })) } : {} };
    return notFound;
  });
}
