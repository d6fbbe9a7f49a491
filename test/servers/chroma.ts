/**
 * A Chroma test server following the documented REST API (https://docs.trychroma.com/reference, API v2):
 * `GET /api/v2/heartbeat` ({"nanosecond heartbeat": N}, always open), `GET /api/v2/version` (a JSON string),
 * `GET /api/v2/tenants/default_tenant/databases/default_database/collections` ([{id, name, metadata}]) and
 * `GET …/collections/{id}/count` (a number). Locked mode is a token auth provider: 401 on everything else.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

const BASE = '/api/v2/tenants/default_tenant/databases/default_database/collections';

export function startTestChroma(opts: { mode: ApiMode; collections?: Record<string, number>; port?: number }): Promise<TestApi> {
  const entries = Object.entries(opts.collections ?? {}).map(([name, count], i) => ({ id: `6a1c2e9d-0000-4000-8000-00000000000${i}`, name, count }));
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    const path = req.url.pathname;
    if (req.method !== 'GET') return { status: 405, body: { error: 'the test server writes nothing' } };
    if (path === '/api/v2/heartbeat') return { body: { 'nanosecond heartbeat': 1737360000000000000 } };
    if (path === '/api/v2/version') return { body: JSON.stringify('1.0.0'), headers: { 'content-type': 'application/json' } };
    if (!req.authorised) return { status: 401, body: { error: 'Unauthorized', message: 'Unauthorized' } };
    if (path === BASE)
      return { body: entries.map((e) => ({ id: e.id, name: e.name, metadata: null, tenant: 'default_tenant', database: 'default_database' })) };
    const counted = entries.find((e) => path === `${BASE}/${e.id}/count`);
    if (counted) return { body: counted.count };
    return notFound;
  });
}
