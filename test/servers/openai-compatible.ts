/**
 * OpenAI-compatible model servers as documented by their projects:
 * - vLLM (https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html): `GET /v1/models` (data[] with
 *   owned_by "vllm", root, max_model_len), `GET /version`, `GET /health`, `GET /metrics` (Prometheus text with
 *   `vllm:` metrics), POST-only `/invocations`; with VLLM_SERVER_DEV_MODE also POST `/sleep`, `/wake_up`,
 *   `/collective_rpc`, `/reset_prefix_cache` and GET `/is_sleeping`. `--api-key` guards only paths under `/v1`
 *   and answers 401 `{"error":"Unauthorized"}`. A POST-only route answers other methods with 405, as FastAPI does.
 * - llama.cpp server (tools/server/README.md): `GET /v1/models` (owned_by "llamacpp", meta.n_params, meta.size)
 *   and `GET /health` stay public with `--api-key`; `GET /props` needs the key; refusals are 401
 *   `{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}`.
 * Locked mode means the server was started with an API key.
 */
import { notFound, startTestApi, type ApiAnswer, type ApiMode, type ApiRequest, type TestApi } from './json-api.js';

export interface TestModelServerOptions {
  mode: ApiMode;
  flavour: 'vllm' | 'llamacpp';
  /** vLLM with VLLM_SERVER_DEV_MODE=1: the sleep and RPC routes exist. */
  devMode?: boolean;
  port?: number;
}

const VLLM_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const methodNotAllowed: ApiAnswer = { status: 405, body: { detail: 'Method Not Allowed' } };

function vllm(req: ApiRequest, devMode: boolean): ApiAnswer {
  const path = req.url.pathname;
  if (path.startsWith('/v1') && !req.authorised) return { status: 401, body: { error: 'Unauthorized' } };
  const postOnly = ['/invocations', ...(devMode ? ['/sleep', '/wake_up', '/collective_rpc', '/reset_prefix_cache'] : [])];
  if (postOnly.includes(path)) return req.method === 'POST' ? { status: 500, body: { error: 'the test server never acts' } } : methodNotAllowed;
  if (req.method !== 'GET') return methodNotAllowed;
  if (path === '/v1/models') {
    return {
      body: {
        object: 'list',
        data: [
          { id: VLLM_MODEL, object: 'model', created: 1737000000, owned_by: 'vllm', root: VLLM_MODEL, parent: null, max_model_len: 131072, permission: [] },
        ],
      },
    };
  }
  if (path === '/version') return { body: { version: '0.8.4' } };
  if (path === '/health') return { body: '' };
  if (path === '/metrics')
    return { body: `# HELP vllm:num_requests_running Number of requests running.\nvllm:num_requests_running{model_name="${VLLM_MODEL}"} 0.0\n` };
  if (devMode && path === '/is_sleeping') return { body: { is_sleeping: false } };
  return notFound;
}

function llamacpp(req: ApiRequest): ApiAnswer {
  const path = req.url.pathname;
  const refusal = { status: 401, body: { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } } };
  if (req.method !== 'GET') return { status: 405, body: { error: { code: 405, message: 'Method Not Allowed', type: 'invalid_request_error' } } };
  if (path === '/health') return { body: { status: 'ok' } };
  if (path === '/v1/models') {
    return {
      body: {
        object: 'list',
        data: [
          {
            id: 'qwen2.5-7b-instruct-q4_k_m.gguf',
            object: 'model',
            created: 1737000000,
            owned_by: 'llamacpp',
            meta: { vocab_type: 2, n_vocab: 152064, n_ctx_train: 32768, n_embd: 3584, n_params: 7615616512, size: 4677120000 },
          },
        ],
      },
    };
  }
  if (!req.authorised) return refusal;
  if (path === '/props') return { body: { default_generation_settings: { n_ctx: 4096 }, total_slots: 1, chat_template: '' } };
  return { status: 404, body: { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } } };
}

export function startTestModelServer(opts: TestModelServerOptions): Promise<TestApi> {
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => (opts.flavour === 'vllm' ? vllm(req, Boolean(opts.devMode)) : llamacpp(req)));
}
