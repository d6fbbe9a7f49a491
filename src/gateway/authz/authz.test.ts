/**
 * The authorization server against the gateway itself: one config, the proxy and the authz listeners of the
 * same gateway, a recording upstream behind the proxy. Every request is asked of both front doors and must
 * get the same decision; the reports nginx, Caddy, Traefik and Envoy send are read over real sockets, Envoy's
 * gRPC Check with a real @grpc/grpc-js client on the protos in ./proto.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { credentials, loadPackageDefinition, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { KeyStore } from '../../keys/index.js';
import { sendRaw, type RawReply } from '../../../test/helpers/send-raw.js';
import { startRecordingServer, type RecordingServer } from '../../../test/helpers/recording-http.js';
import { parseGatewayConfig } from '../config.js';
import { Gateway } from '../gateway.js';

const send = (origin: string, path: string, headers: Record<string, string | string[]> = {}, method = 'GET') => sendRaw(origin, path, { headers, method });

const PROTO_ROOT = fileURLToPath(new URL('./proto/', import.meta.url));

interface CheckReply {
  status: { code: number; message?: string };
  ok_response?: { headers: Array<{ header: { key: string; value: string }; append_action: number }>; headers_to_remove: string[] };
  denied_response?: { status: { code: number }; headers: Array<{ header: { key: string; value: string } }>; body: string };
}

describe('warden gateway --mode authz: the gateway policy for nginx, Caddy, Traefik and Envoy', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-authz-'));
  let upstream: RecordingServer;
  let keys: KeyStore;
  let gateway: Gateway;
  let reader: string;
  let inference: string;
  let limited: string;
  let check: (req: object) => Promise<CheckReply>;
  let closeClient: () => void;

  before(async () => {
    upstream = await startRecordingServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('1\n'));
    const secret = { version: 1, key: Buffer.alloc(32, 9) };
    keys = await KeyStore.open({ store: ':memory:', secrets: { current: secret, all: [secret] } });
    const yaml = `
listen: { port: 0 }
authz:
  listen: { port: 0 }
  grpc: { port: 0 }
assertion: { ttlSeconds: 30 }
routes:
  - name: clickhouse
    upstream: { url: "${upstream.origin}", profile: clickhouse }
    public: [ping]
    allow:
      - { classes: [read], methods: [GET], scopes: ["clickhouse:read"] }
    identityHeaders: { X-Warden-Key-Id: keyId, X-Warden-Owner: owner }
    assertion: true
`;
    gateway = await Gateway.start({ config: parseGatewayConfig(yaml, 'inline', dir), keys, accessLog: null });
    reader = (await keys.create({ owner: 'acme', name: 'reader', scopes: ['clickhouse:read'] })).key;
    inference = (await keys.create({ owner: 'acme', name: 'inference', scopes: ['llm:inference'] })).key;
    limited = (await keys.create({ owner: 'acme', name: 'office-only', scopes: ['clickhouse:read'], allowedIps: ['10.1.0.0/16'] })).key;
    const definition = loadSync('envoy/service/auth/v3/external_auth.proto', {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      enums: Number,
      defaults: true,
      oneofs: true,
    });
    const Authorization = (
      loadPackageDefinition(definition) as unknown as { envoy: { service: { auth: { v3: { Authorization: ServiceClientConstructor } } } } }
    ).envoy.service.auth.v3.Authorization;
    const client = new Authorization(gateway.authzGrpcAddress!, credentials.createInsecure());
    closeClient = () => client.close();
    check = (req) =>
      new Promise((resolve, reject) =>
        (client as unknown as { Check(r: object, o: object, cb: (e: ServiceError | null, v: CheckReply) => void): void }).Check(
          req,
          { deadline: Date.now() + 5000 },
          (err, v) => (err ? reject(err) : resolve(v)),
        ),
      );
  });

  after(async () => {
    closeClient?.();
    await gateway?.close();
    await keys?.close();
    await upstream?.close();
  });

  const nginx = (method: string, uri: string, extra: Record<string, string | string[]> = {}) =>
    send(gateway.authzUrl!, '/auth', { 'x-original-method': method, 'x-original-uri': uri, ...extra });
  const forwarded = (method: string, uri: string, extra: Record<string, string | string[]> = {}) =>
    send(gateway.authzUrl!, '/auth', {
      'x-forwarded-method': method,
      'x-forwarded-uri': uri,
      'x-forwarded-host': '127.0.0.1',
      'x-forwarded-proto': 'http',
      ...extra,
    });

  it("makes the proxy's decision for every request: the same status and the same JSON body", async () => {
    const cases: Array<[method: string, target: string, key: string | null]> = [
      ['GET', '/ping', null],
      ['GET', '/?query=SELECT%201', null],
      ['GET', '/?query=SELECT%201', 'wk_live_not_a_real_key'],
      ['GET', '/?query=SELECT%201', inference],
      ['GET', '/?query=SELECT%201', reader],
      ['GET', '/?query=SELECT%201', limited],
      ['POST', '/?query=SELECT%201', reader],
      ['GET', '/play', reader],
      ['GET', '/dashboard', inference],
      ['GET', '/secret/admin', reader],
      ['PUT', '/ping', reader],
      ['GET', '/%2e%2e/play', reader],
      ['GET', '/x/..;/play', reader],
      ['GET', '//play', reader],
      ['GET', '/%c0%ae%c0%ae/play', reader],
    ];
    for (const [method, target, key] of cases) {
      const auth: Record<string, string> = key ? { 'x-api-key': key } : {};
      const proxied = await send(gateway.url, target, auth, method);
      const both = [await nginx(method, target, auth), await forwarded(method, target, auth)];
      for (const asked of both) {
        const what = `${method} ${target} ${key ? 'with a key' : 'without a key'}`;
        assert.equal(asked.status, proxied.status === 200 ? 200 : proxied.status, what);
        if (proxied.status !== 200) {
          assert.deepEqual(JSON.parse(asked.body), JSON.parse(proxied.body), what);
          assert.equal(asked.headers['x-warden-refusal'], asked.body, `${what}: the refusal is in a header for nginx too`);
          assert.equal(asked.headers['www-authenticate'], proxied.headers['www-authenticate'], what);
        }
      }
    }
  });

  it('answers an allowed request with the identity headers the proxy copies upstream', async () => {
    const ok = await nginx('GET', '/?query=SELECT%201', { 'x-api-key': reader });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers['x-warden-key-id']), /^[A-Za-z0-9_-]+$/);
    assert.equal(ok.headers['x-warden-owner'], 'acme');
    assert.equal(String(ok.headers['x-warden-assertion']).split('.').length, 3, 'the signed assertion');
    const caddy = await forwarded('GET', '/?query=SELECT%201', { authorization: `Bearer ${reader}` });
    assert.equal(caddy.status, 200);
    assert.equal(caddy.headers['x-warden-owner'], 'acme');
    const publicPing = await nginx('GET', '/ping');
    assert.equal(publicPing.status, 200);
    assert.equal(publicPing.headers['x-warden-owner'], '', 'no identity on a public endpoint: empty, for Caddy 2.6 (see http-server.ts)');
  });

  it('refuses a report that is missing its URI or method, names one twice, or in two ways', async () => {
    const refused = async (reply: Promise<RawReply>, reason: string) => {
      const r = await reply;
      assert.equal(r.status, 400, reason);
      assert.equal((JSON.parse(r.body) as { reason: string }).reason, reason);
    };
    const h = { 'x-api-key': reader };
    await refused(send(gateway.authzUrl!, '/auth', { 'x-original-method': 'GET', ...h }), 'original_uri_missing');
    await refused(send(gateway.authzUrl!, '/auth', { 'x-original-uri': '/?query=SELECT%201', ...h }), 'original_method_missing');
    await refused(send(gateway.authzUrl!, '/auth', h), 'original_method_missing');
    await refused(nginx('GET', '/ping', { 'x-original-uri': ['/ping', '/play'] } as Record<string, string[]>), 'original_request_ambiguous');
    await refused(nginx('GET', '/?query=SELECT%201', { 'x-forwarded-uri': '/ping', ...h }), 'original_request_ambiguous');
    await refused(forwarded('GET', '/?query=SELECT%201', { 'x-original-method': 'GET', ...h }), 'original_request_ambiguous');
    await refused(nginx('GET', 'http://127.0.0.1/play', h), 'original_uri_ambiguous');
    await refused(nginx('GET', '*', h), 'original_uri_ambiguous');
    await refused(nginx('GET', '/play#/ping', h), 'original_uri_ambiguous');
    await refused(nginx('get', '/ping', h), 'original_method_ambiguous');
    await refused(forwarded('GET', '/?query=SELECT%201', { 'x-forwarded-for': ['10.1.0.1', '10.1.0.2'], ...h }), 'original_request_ambiguous');
  });

  it("refuses what the proxy would forward and the gateway would have stripped: the upstream's own credential", async () => {
    const h = { 'x-api-key': reader };
    for (const reply of [
      nginx('GET', '/?query=SELECT%201&password=x', h),
      nginx('GET', '/?query=SELECT%201', { ...h, 'x-clickhouse-key': 'x' }),
      forwarded('GET', '/?user=default&query=SELECT%201', h),
    ]) {
      const r = await reply;
      assert.equal(r.status, 400);
      assert.equal((JSON.parse(r.body) as { reason: string }).reason, 'upstream_credential');
    }
  });

  it('refuses an upgrade the proxy reports that the gateway would refuse', async () => {
    const r = await nginx('GET', '/?query=SELECT%201', { 'x-api-key': reader, upgrade: 'h2c' });
    assert.equal(r.status, 400);
    assert.equal((JSON.parse(r.body) as { reason: string }).reason, 'upgrade_not_websocket');
    const ws = await nginx('GET', '/?query=SELECT%201', { 'x-api-key': reader, upgrade: 'websocket' });
    assert.equal((JSON.parse(ws.body) as { reason: string }).reason, 'upgrade_not_allowed');
  });

  it('takes the client address from the last X-Forwarded-For entry, and none without it', async () => {
    const target = '/?query=SELECT%201';
    assert.equal((await forwarded('GET', target, { 'x-api-key': limited, 'x-forwarded-for': '10.1.2.3' })).status, 200);
    assert.equal(
      (await forwarded('GET', target, { 'x-api-key': limited, 'x-forwarded-for': '10.1.2.3, 192.0.2.7' })).status,
      403,
      'the entry the nearest proxy wrote',
    );
    assert.equal((await forwarded('GET', target, { 'x-api-key': limited })).status, 403, 'an unknown address is not in any range');
  });

  it("answers Envoy's HTTP ext_authz service at /envoy/<original path>, naming the credential to remove", async () => {
    const ok = await send(gateway.authzUrl!, '/envoy/?query=SELECT%201', { authorization: `Bearer ${reader}`, 'x-forwarded-for': '127.0.0.1' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-warden-owner'], 'acme');
    assert.deepEqual(String(ok.headers['x-envoy-auth-headers-to-remove']).split(','), ['authorization', 'x-api-key']);
    const pub = await send(gateway.authzUrl!, '/envoy/ping');
    assert.deepEqual(
      String(pub.headers['x-envoy-auth-headers-to-remove']).split(','),
      ['authorization', 'x-api-key', 'x-warden-key-id', 'x-warden-owner', 'x-warden-assertion'],
      "a client's own identity headers go too",
    );
    assert.equal((await send(gateway.authzUrl!, '/envoy/?query=SELECT%201')).status, 401);
    assert.equal((await send(gateway.authzUrl!, '/envoy/%2e%2e/play', { 'x-api-key': reader })).status, 400);
    assert.equal((await send(gateway.authzUrl!, '/envoy/play', { 'x-api-key': reader })).status, 403);
    assert.equal((await send(gateway.authzUrl!, '/other', { 'x-api-key': reader })).status, 404, 'an error to the proxy, which then refuses');
  });

  it('serves envoy.service.auth.v3.Authorization/Check to a real gRPC client', async () => {
    const http = (path: string, headers: Record<string, string>) => ({
      attributes: {
        source: { address: { socket_address: { address: '127.0.0.1', port_value: 40000 } } },
        request: { http: { method: 'GET', path, host: '127.0.0.1:8123', scheme: 'http', headers } },
      },
    });
    const ok = await check(http('/?query=SELECT%201', { authorization: `Bearer ${reader}`, ':path': '/?query=SELECT%201' }));
    assert.equal(ok.status.code, 0);
    const set = Object.fromEntries(ok.ok_response!.headers.map((h) => [h.header.key, h.header.value]));
    assert.equal(set['x-warden-owner'], 'acme');
    assert.ok(
      ok.ok_response!.headers.every((h) => h.append_action === 2),
      'overwrites any client copy',
    );
    assert.deepEqual(ok.ok_response!.headers_to_remove, ['authorization', 'x-api-key']);

    const none = await check(http('/?query=SELECT%201', {}));
    assert.equal(none.status.code, 16, 'UNAUTHENTICATED');
    assert.equal(none.denied_response!.status.code, 401);
    assert.equal((JSON.parse(none.denied_response!.body) as { reason: string }).reason, 'no_credential');
    const dots = await check(http('/%2e%2e/play', { 'x-api-key': reader }));
    assert.equal(dots.denied_response!.status.code, 400);
    const admin = await check(http('/play', { 'x-api-key': inference }));
    assert.equal(admin.status.code, 7, 'PERMISSION_DENIED');
    assert.equal(admin.denied_response!.status.code, 403);
    const missing = await check({ attributes: { request: { http: { method: 'GET', headers: { 'x-api-key': reader } } } } });
    assert.equal((JSON.parse(missing.denied_response!.body) as { reason: string }).reason, 'original_uri_missing');
    // encode_raw_headers: every copy arrives, and two credentials are two answers to "who is asking".
    const raw = (pairs: Array<[string, string]>) => ({
      attributes: {
        request: {
          http: {
            method: 'GET',
            path: '/?query=SELECT%201',
            host: '127.0.0.1',
            header_map: { headers: pairs.map(([key, v]) => ({ key, raw_value: Buffer.from(v) })) },
          },
        },
      },
    });
    assert.equal((await check(raw([['x-api-key', reader]]))).status.code, 0);
    const twice = await check(
      raw([
        ['authorization', `Bearer ${reader}`],
        ['authorization', 'Bearer other'],
      ]),
    );
    assert.equal(twice.denied_response!.status.code, 400);
  });

  it('stops a revoked key at the next Check', async () => {
    const { key, info } = await keys.create({ owner: 'acme', name: 'to-revoke', scopes: ['clickhouse:read'] });
    const asked = () =>
      check({ attributes: { request: { http: { method: 'GET', path: '/?query=SELECT%201', host: '127.0.0.1', headers: { 'x-api-key': key } } } } });
    assert.equal((await asked()).status.code, 0);
    await keys.revoke(info.id, 'test');
    const after = await asked();
    assert.equal(after.denied_response!.status.code, 401);
    assert.equal((JSON.parse(after.denied_response!.body) as { reason: string }).reason, 'key_revoked');
  });
});
