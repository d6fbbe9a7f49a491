/**
 * A Milvus test server following the documented RESTful API v2
 * (https://milvus.io/api-reference/restful/v2.5.x/v2/Collection%20(v2)/List.md): `POST /v2/vectordb/collections/list`
 * ({"code":0,"data":[names]}) and `POST /v2/vectordb/collections/get_stats` ({"code":0,"data":{"rowCount":N}}).
 * Locked mode is authorizationEnabled: HTTP 200 with {"code":1800,"message":"user hasn't authenticated"} unless
 * the bearer token `user:password` matches.
 */
import { startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestMilvus(opts: { mode: ApiMode; collections?: Record<string, number>; login?: string; port?: number }): Promise<TestApi> {
  const collections = opts.collections ?? {};
  const authorization = opts.login ? `Bearer ${opts.login}` : undefined;
  return startTestApi({ mode: opts.mode, authorization, port: opts.port }, (req) => {
    if (req.method !== 'POST') return { status: 404, body: '404 page not found' };
    if (!req.authorised) return { body: { code: 1800, message: "user hasn't authenticated" } };
    const path = req.url.pathname;
    if (path === '/v2/vectordb/collections/list') return { body: { code: 0, data: Object.keys(collections) } };
    if (path === '/v2/vectordb/collections/get_stats') {
      const name = String((JSON.parse(req.body) as { collectionName?: unknown }).collectionName);
      return collections[name] === undefined
        ? { body: { code: 100, message: `collection not found[collection=${name}]` } }
        : { body: { code: 0, data: { rowCount: collections[name] } } };
    }
    return { status: 404, body: '404 page not found' };
  });
}
