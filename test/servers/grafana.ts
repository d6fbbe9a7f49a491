/**
 * A Grafana test server following the documented HTTP API (https://grafana.com/docs/grafana/latest/developers/http_api/):
 * `GET /api/health` ({commit, database: "ok", version}, always open), `GET /api/org` ({id, name, address}),
 * `GET /api/search` (dashboard hits) and `GET /api/datasources`. Open mode is anonymous access
 * ([auth.anonymous] enabled); locked mode answers 401 `{"message":"Unauthorized"}` unless Basic auth matches.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestGrafana(opts: { mode: ApiMode; dashboards?: number; login?: string; port?: number }): Promise<TestApi> {
  const authorization = opts.login ? `Basic ${Buffer.from(opts.login).toString('base64')}` : undefined;
  return startTestApi({ mode: opts.mode, authorization, port: opts.port }, (req) => {
    const path = req.url.pathname;
    if (path === '/api/health') return { body: { commit: '83b9528bce', database: 'ok', version: '11.4.0' } };
    if (!req.authorised) return { status: 401, body: { message: 'Unauthorized', traceID: '' } };
    if (req.method !== 'GET') return { status: 405, body: { message: 'the test server writes nothing' } };
    if (path === '/api/org') return { body: { id: 1, name: 'Main Org.', address: { address1: '', city: '', country: '' } } };
    if (path === '/api/search')
      return { body: Array.from({ length: opts.dashboards ?? 0 }, (_, i) => ({ id: i + 1, uid: `d${i}`, title: `Dashboard ${i}`, type: 'dash-db' })) };
    if (path === '/api/datasources') return { body: [{ id: 1, uid: 'pg', name: 'Postgres', type: 'postgres', access: 'proxy' }] };
    return { ...notFound, body: { message: 'Not found' } };
  });
}
