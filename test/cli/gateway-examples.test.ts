/**
 * The gateway examples a reader copies: every warden gateway config passes `warden gateway --check`, the
 * Envoy and Traefik configs (which cannot run here) parse and point at the listeners examples/authz/gateway.yaml
 * opens, and the HAProxy config passes `haproxy -c` with its Lua action loaded. The nginx, Caddy and HAProxy
 * examples run for real in src/gateway/authz/front-doors.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runCli } from '../helpers/cli.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

interface AuthzExample {
  authz: { listen: { host: string; port: number }; grpc: { host: string; port: number } };
}

/** Every object in a parsed YAML document that has `key`, depth first. */
function findAll(node: unknown, key: string): unknown[] {
  if (Array.isArray(node)) return node.flatMap((n) => findAll(n, key));
  if (!node || typeof node !== 'object') return [];
  const here = key in node ? [(node as Record<string, unknown>)[key]] : [];
  return [...here, ...Object.values(node).flatMap((n) => findAll(n, key))];
}

/** Envoy's static address of a named cluster: host:port. */
function clusterAddress(envoy: unknown, name: string): string {
  const cluster = findAll(envoy, 'clusters')
    .flat()
    .find((c) => (c as { name: string }).name === name);
  const [address] = findAll(cluster, 'socket_address') as Array<{ address: string; port_value: number }>;
  return `${address!.address}:${address!.port_value}`;
}

describe('gateway examples', { timeout: 60_000 }, () => {
  // A warden gateway config is any example YAML with routes.
  const gatewayConfigs = (readdirSync(EXAMPLES, { recursive: true }) as string[])
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(EXAMPLES, f))
    .filter((f) => 'routes' in ((parse(readFileSync(f, 'utf8')) as object | null) ?? {}));
  const authz = parse(readFileSync(join(EXAMPLES, 'authz', 'gateway.yaml'), 'utf8')) as AuthzExample;
  const httpAddress = `${authz.authz.listen.host}:${authz.authz.listen.port}`;
  const grpcAddress = `${authz.authz.grpc.host}:${authz.authz.grpc.port}`;

  it('finds the gateway examples', () => assert.ok(gatewayConfigs.length >= 2, gatewayConfigs.join(', ')));

  for (const config of gatewayConfigs) {
    it(`warden gateway --check accepts ${config.slice(EXAMPLES.length)}`, async () => {
      const r = await runCli(['gateway', '--config', config, '--check'], { env: { CLICKHOUSE_USER: 'default', CLICKHOUSE_PASSWORD: 'example' } });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /: ok \(/);
    });
  }

  it('the Envoy examples send ext_authz to the authz listeners, failing closed', () => {
    const grpc = parse(readFileSync(join(EXAMPLES, 'authz', 'envoy.yaml'), 'utf8')) as unknown;
    const [filter] = findAll(grpc, 'typed_config').filter((c) => String((c as Record<string, unknown>)['@type']).endsWith('ext_authz.v3.ExtAuthz')) as Array<{
      failure_mode_allow: boolean;
      transport_api_version: string;
      grpc_service: { envoy_grpc: { cluster_name: string } };
    }>;
    assert.equal(filter!.failure_mode_allow, false);
    assert.equal(filter!.transport_api_version, 'V3');
    assert.equal(clusterAddress(grpc, filter!.grpc_service.envoy_grpc.cluster_name), grpcAddress);

    const http = parse(readFileSync(join(EXAMPLES, 'authz', 'envoy-http.yaml'), 'utf8')) as unknown;
    const [httpFilter] = findAll(http, 'typed_config').filter((c) =>
      String((c as Record<string, unknown>)['@type']).endsWith('ext_authz.v3.ExtAuthz'),
    ) as Array<{
      failure_mode_allow: boolean;
      http_service: { server_uri: { uri: string; cluster: string }; path_prefix: string };
    }>;
    assert.equal(httpFilter!.failure_mode_allow, false);
    assert.equal(httpFilter!.http_service.path_prefix, '/envoy');
    assert.equal(new URL(httpFilter!.http_service.server_uri.uri).host, httpAddress);
    assert.equal(clusterAddress(http, httpFilter!.http_service.server_uri.cluster), httpAddress);
  });

  it("the Traefik example's forwardAuth asks the authz listener's /auth, not trusting the client's forwarding headers", () => {
    const traefik = parse(readFileSync(join(EXAMPLES, 'authz', 'traefik.yml'), 'utf8')) as {
      http: {
        routers: Record<string, { middlewares: string[] }>;
        middlewares: Record<string, { forwardAuth?: { address: string; trustForwardHeader: boolean; authResponseHeaders: string[] } }>;
      };
    };
    const router = Object.values(traefik.http.routers)[0]!;
    const named = router.middlewares.filter((m) => traefik.http.middlewares[m]?.forwardAuth);
    assert.equal(named.length, 1);
    const forwardAuth = traefik.http.middlewares[named[0]!]!.forwardAuth!;
    const url = new URL(forwardAuth.address);
    assert.equal(url.host, httpAddress);
    assert.equal(url.pathname, '/auth');
    assert.equal(forwardAuth.trustForwardHeader, false);
    assert.deepEqual(forwardAuth.authResponseHeaders, ['X-Warden-Key-Id', 'X-Warden-Owner']);
    assert.ok(router.middlewares.indexOf(named[0]!) > 0, "a client's identity headers are stripped before forwardAuth");
  });

  it(
    'the HAProxy example passes haproxy -c with its Lua action, asks the authz listener, and refuses when the action did not allow',
    { skip: spawnSync('haproxy', ['-v']).error ? 'haproxy is not installed (scripts/services.sh installs it)' : false },
    () => {
      const cfg = readFileSync(join(EXAMPLES, 'authz', 'haproxy.cfg'), 'utf8');
      const rules = cfg
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('http-request '));
      const action = rules.findIndex((r) => r.startsWith('http-request lua.warden_authz '));
      const [url, identity, deadline] = rules[action]!.split(/\s+/).slice(2);
      assert.equal(new URL(url!).host, httpAddress);
      assert.equal(new URL(url!).pathname, '/auth');
      assert.equal(identity, 'X-Warden-Key-Id,X-Warden-Owner');
      assert.ok(Number(deadline) > 0 && Number(deadline) <= 5000, deadline);
      assert.match(
        rules[action + 1]!,
        /^http-request return status 503 .* unless \{ var\(txn\.warden_allowed\) -m bool \}$/,
        'the rule after the action refuses what it did not allow',
      );
      // `haproxy -c` runs lua-load, so the shipped script is compiled and its action's arguments counted.
      const dir = mkdtempSync(join(tmpdir(), 'warden-haproxy-example-'));
      try {
        writeFileSync(join(dir, 'haproxy.cfg'), cfg.replace('/etc/haproxy/haproxy-warden.lua', join(EXAMPLES, 'authz', 'haproxy-warden.lua')));
        const check = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], {
          env: { ...process.env, CLICKHOUSE_PASSWORD: 'example' },
          encoding: 'utf8',
        });
        assert.equal(check.status, 0, check.stderr);
        assert.match(check.stdout, /Configuration file is valid/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
