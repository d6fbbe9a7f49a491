/**
 * A TorchServe management-API test server following the documented API
 * (https://pytorch.org/serve/management_api.html): `GET /models` ({models: [{modelName, modelUrl}]}) and
 * `GET /api-description` (an OpenAPI document titled "TorchServe APIs"). Locked mode is token authorisation
 * (https://pytorch.org/serve/token_authorization_api.html), which refuses with "Token Authorization failed".
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestTorchServe(opts: { mode: ApiMode; models?: string[]; port?: number }): Promise<TestApi> {
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    if (!req.authorised)
      return {
        status: 400,
        body: { code: 400, type: 'InvalidKeyException', message: 'Token Authorization failed. Token either incorrect, expired, or not provided correctly' },
      };
    if (req.method !== 'GET') return { status: 405, body: { code: 405, type: 'MethodNotAllowedException', message: 'the test server registers nothing' } };
    if (req.url.pathname === '/models') return { body: { models: (opts.models ?? []).map((m) => ({ modelName: m, modelUrl: `${m}.mar` })) } };
    if (req.url.pathname === '/api-description')
      return {
        body: {
          openapi: '3.0.1',
          info: { title: 'TorchServe APIs', description: 'TorchServe is a flexible and easy to use tool for serving deep learning models', version: '0.12.0' },
          paths: {},
        },
      };
    return notFound;
  });
}
