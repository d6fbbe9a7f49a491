/**
 * A Qdrant test server following the documented REST API (https://api.qdrant.tech/api-reference): `GET /`
 * ({title: "qdrant - vector search engine", version, commit}, open even with an API key), `GET /collections`
 * ({result: {collections: [{name}]}, status: "ok", time}) and `GET /collections/{name}` (result.points_count).
 * Locked mode is `service.api_key`: 401 "Must provide an API key or an Authorization bearer token".
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestQdrant(opts: { mode: ApiMode; collections?: Record<string, number>; port?: number }): Promise<TestApi> {
  const collections = opts.collections ?? {};
  const ok = (result: unknown) => ({ body: { result, status: 'ok', time: 0.000012 } });
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    const path = req.url.pathname;
    if (req.method === 'GET' && path === '/')
      return { body: { title: 'qdrant - vector search engine', version: '1.12.5', commit: 'e5d8d3ab1c6e2c0aa2f7c94c1fa3c1d5b1d5c6a2' } };
    if (!req.authorised) return { status: 401, body: 'Must provide an API key or an Authorization bearer token' };
    if (req.method !== 'GET') return { status: 405, body: { status: { error: 'the test server writes nothing' } } };
    if (path === '/collections') return ok({ collections: Object.keys(collections).map((name) => ({ name })) });
    const one = /^\/collections\/([^/]+)$/.exec(path);
    if (one && collections[decodeURIComponent(one[1]!)] !== undefined)
      return ok({ status: 'green', points_count: collections[decodeURIComponent(one[1]!)], segments_count: 2 });
    return notFound;
  });
}
