/**
 * An Elasticsearch / OpenSearch test server following the documented REST API: `GET /` (root info:
 * name, cluster_name, version.number, tagline; OpenSearch adds version.distribution), `GET /_cat/indices`
 * with format=json (string fields `index`, `docs.count`, `store.size`), and `GET /<index>/_search?size=N`
 * (hits.hits[]._source). Locked mode answers 401 with `WWW-Authenticate: Basic realm="security"` and a
 * `security_exception` body, as Elasticsearch security does, unless the request carries the configured
 * Basic credentials.
 * Docs: https://www.elastic.co/guide/en/elasticsearch/reference/current/cat-indices.html ,
 * https://www.elastic.co/guide/en/elasticsearch/reference/current/search-search.html
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLoopback, type TestServer } from './hostile.js';

export type SearchMode = 'open' | 'locked' | 'garbage';

export interface TestSearch extends TestServer {
  /** `METHOD path` of every request received. */
  requests: string[];
}

export interface TestSearchOptions {
  mode: SearchMode;
  flavor?: 'elasticsearch' | 'opensearch';
  /** Index name to documents. */
  indices?: Record<string, Array<Record<string, unknown>>>;
  /** Locked mode: the one `user:password` accepted over Basic auth. */
  credentials?: string;
  port?: number;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'x-elastic-product': 'Elasticsearch', ...headers });
  res.end(JSON.stringify(body));
}

export async function startTestSearch(opts: TestSearchOptions): Promise<TestSearch> {
  const requests: string[] = [];
  const indices = opts.indices ?? {};
  const opensearch = opts.flavor === 'opensearch';
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    if (opts.mode === 'garbage') {
      req.socket.end('\x00\xff garbage, not HTTP\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const basic = opts.credentials ? `Basic ${Buffer.from(opts.credentials).toString('base64')}` : undefined;
    if (opts.mode === 'locked' && (basic === undefined || req.headers.authorization !== basic)) {
      const reason = `missing authentication credentials for REST request [${url.pathname}]`;
      const error = { root_cause: [{ type: 'security_exception', reason }], type: 'security_exception', reason };
      return json(res, 401, { error, status: 401 }, { 'www-authenticate': 'Basic realm="security" charset="UTF-8"' });
    }
    if (req.method !== 'GET') return json(res, 405, { error: 'method not allowed in the test server', status: 405 });
    if (url.pathname === '/') {
      return json(res, 200, {
        name: 'node-1',
        cluster_name: 'ai-logs',
        cluster_uuid: 'Y2x1c3Rlci11dWlkLXRlc3Q',
        version: opensearch ? { distribution: 'opensearch', number: '2.11.0' } : { number: '8.13.0', build_flavor: 'default' },
        tagline: opensearch ? 'The OpenSearch Project: https://opensearch.org/' : 'You Know, for Search',
      });
    }
    if (url.pathname === '/_cat/indices') {
      const rows = ['.security-7', ...Object.keys(indices)].map((name) => ({
        index: name,
        'docs.count': String(indices[name]?.length ?? 1),
        'store.size': String(JSON.stringify(indices[name] ?? {}).length),
      }));
      return json(res, 200, rows);
    }
    const search = /^\/([^/_][^/]*)\/_search$/.exec(url.pathname);
    if (search && indices[search[1]!]) {
      const docs = indices[search[1]!]!.slice(0, Number(url.searchParams.get('size') ?? 10));
      return json(res, 200, {
        hits: { total: { value: docs.length, relation: 'eq' }, hits: docs.map((d, i) => ({ _index: search[1], _id: String(i), _source: d })) },
      });
    }
    return json(res, 404, { error: { type: 'index_not_found_exception' }, status: 404 });
  };
  const listening = await listenLoopback(createServer(handle), opts.port);
  return { ...listening, requests };
}
