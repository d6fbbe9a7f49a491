/**
 * A Weaviate test server following the documented REST and GraphQL APIs
 * (https://weaviate.io/developers/weaviate/api/rest): `GET /v1/meta` ({hostname, modules, version}),
 * `GET /v1/schema` ({classes: [{class, properties}]}) and `POST /v1/graphql` answering
 * `{ Aggregate { <Class> { meta { count } } } }` with data.Aggregate.<Class>[0].meta.count. Locked mode is
 * anonymous access disabled: 401 `{"code":401,"message":"anonymous access not enabled, …"}`.
 */
import { notFound, startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestWeaviate(opts: { mode: ApiMode; classes?: Record<string, number>; port?: number }): Promise<TestApi> {
  const classes = opts.classes ?? {};
  return startTestApi({ mode: opts.mode, port: opts.port }, (req) => {
    if (!req.authorised) return { status: 401, body: { code: 401, message: 'anonymous access not enabled, please provide an auth scheme such as OIDC' } };
    const path = req.url.pathname;
    if (req.method === 'GET' && path === '/v1/meta')
      return {
        body: {
          hostname: 'http://[::]:8080',
          modules: { 'text2vec-openai': { documentationHref: 'https://platform.openai.com/docs/guides/embeddings' } },
          version: '1.27.2',
        },
      };
    if (req.method === 'GET' && path === '/v1/schema')
      return { body: { classes: Object.keys(classes).map((c) => ({ class: c, properties: [{ name: 'content', dataType: ['text'] }] })) } };
    if (req.method === 'POST' && path === '/v1/graphql') {
      const query = String((JSON.parse(req.body) as { query?: unknown }).query ?? '');
      if (!/^\{ Aggregate \{[^{}]*(\{ meta \{ count \} \}[^{}]*)*\} \}$/.test(query))
        return { status: 422, body: { errors: [{ message: 'the test server answers only Aggregate counts' }] } };
      const asked = [...query.matchAll(/(\w+) \{ meta/g)].map((m) => m[1]!);
      return { body: { data: { Aggregate: Object.fromEntries(asked.map((c) => [c, [{ meta: { count: classes[c] ?? 0 } }]])) } } };
    }
    return notFound;
  });
}
