/**
 * A Jupyter Server test server following the documented REST API
 * (https://jupyter-server.readthedocs.io/en/latest/developers/rest-api.html): `GET /api` ({version}, open to all),
 * `GET /api/kernels` and `GET /api/sessions` (lists), `GET /api/contents?content=1` (the root folder model with
 * a `content` array). Without the token Jupyter answers 403 `{"message": "Forbidden", "reason": null}`. Every
 * answer carries `Server: TornadoServer/6.4`, as Jupyter's Tornado does.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestJupyter(opts: { mode: ApiMode; kernels?: number; files?: string[]; port?: number }): Promise<TestApi> {
  const kernels = Array.from({ length: opts.kernels ?? 0 }, (_, i) => ({
    id: `5e0c${i}f7a-0000-4000-8000-00000000000${i}`,
    name: 'python3',
    last_activity: '2025-01-20T10:00:00Z',
    execution_state: 'idle',
    connections: 1,
  }));
  const server = { server: 'TornadoServer/6.4' };
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    if (req.method !== 'GET') return { status: 405, body: { message: 'the test server starts nothing', reason: null }, headers: server };
    const path = req.url.pathname;
    if (path === '/api') return { body: { version: '2.14.2' }, headers: server };
    if (!req.authorised) return { status: 403, body: { message: 'Forbidden', reason: null }, headers: server };
    if (path === '/api/kernels') return { body: kernels, headers: server };
    if (path === '/api/sessions')
      return { body: kernels.slice(0, 1).map((k) => ({ id: 's1', path: 'Untitled.ipynb', type: 'notebook', kernel: k })), headers: server };
    if (path === '/api/contents')
      return { body: { name: '', path: '', type: 'directory', content: (opts.files ?? []).map((f) => ({ name: f, path: f, type: 'file' })) }, headers: server };
    return { ...notFound, headers: server };
  });
}
