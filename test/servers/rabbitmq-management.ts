/**
 * A RabbitMQ management-API test server following the documented HTTP API
 * (https://www.rabbitmq.com/docs/http-api-reference): `GET /api/whoami` ({name, tags}), `GET /api/overview`
 * ({management_version, rabbitmq_version, object_totals: {connections, channels, exchanges, queues,
 * consumers}}) and `GET /api/vhosts` ([{name}]). Without valid Basic credentials it answers 401 with
 * `WWW-Authenticate: Basic realm="RabbitMQ Management"` and `{"error":"not_authorized","reason":"…"}`.
 * The real plugin is not enabled on the machine's broker because its listener binds every interface.
 */
import { startTestApi, type ApiMode, type TestApi } from './json-api.js';

export function startTestRabbitManagement(opts: { mode: Exclude<ApiMode, 'open'>; login?: string; port?: number }): Promise<TestApi> {
  const authorization = opts.login ? `Basic ${Buffer.from(opts.login).toString('base64')}` : undefined;
  return startTestApi({ mode: opts.mode, authorization, port: opts.port }, (req) => {
    if (!req.authorised)
      return { status: 401, body: { error: 'not_authorized', reason: 'Not_Authorized' }, headers: { 'www-authenticate': 'Basic realm="RabbitMQ Management"' } };
    if (req.method !== 'GET') return { status: 405, body: { error: 'Method Not Allowed', reason: 'the test server changes nothing' } };
    const path = req.url.pathname;
    if (path === '/api/whoami') return { body: { name: opts.login?.split(':')[0], tags: ['administrator'] } };
    if (path === '/api/overview')
      return {
        body: {
          management_version: '3.13.7',
          rabbitmq_version: '3.13.7',
          cluster_name: 'rabbit@mq-1',
          object_totals: { channels: 4, connections: 2, consumers: 3, exchanges: 9, queues: 5 },
        },
      };
    if (path === '/api/vhosts') return { body: [{ name: '/' }, { name: 'llm-jobs' }] };
    return { status: 404, body: { error: 'Object Not Found', reason: 'Not Found' } };
  });
}
