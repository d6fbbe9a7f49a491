/**
 * An Ollama test server following the documented REST API (https://github.com/ollama/ollama/blob/main/docs/api.md):
 * `GET /` answers "Ollama is running", `GET /api/version` {version}, `GET /api/tags` {models: [{name, model,
 * size, digest, details: {parameter_size, quantization_level}}]}, `GET /api/ps` {models}. Ollama has no
 * authentication; locked mode stands for an authenticating reverse proxy that lets only `/` through.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export interface OllamaModelSpec {
  name: string;
  size: number;
  parameterSize: string;
  quantization: string;
}

export function startTestOllama(opts: { mode: ApiMode; models?: OllamaModelSpec[]; port?: number }): Promise<TestApi> {
  const models = (opts.models ?? []).map((m) => ({
    name: m.name,
    model: m.name,
    modified_at: '2025-01-20T10:00:00.000000000Z',
    size: m.size,
    digest: 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
    details: { format: 'gguf', family: 'llama', families: ['llama'], parameter_size: m.parameterSize, quantization_level: m.quantization },
  }));
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    if (req.method === 'GET' && req.url.pathname === '/') return { body: 'Ollama is running' };
    if (!req.authorised) return { status: 401, body: '401 Authorization Required' };
    if (req.method !== 'GET') return { status: 405, body: { error: 'method not allowed in the test server' } };
    if (req.url.pathname === '/api/version') return { body: { version: '0.5.7' } };
    if (req.url.pathname === '/api/tags') return { body: { models } };
    if (req.url.pathname === '/api/ps') return { body: { models: models.slice(0, 1) } };
    return notFound;
  });
}
