/**
 * The authorization server behind Debian's nginx (auth_request), Caddy (forward_auth) and HAProxy (the Lua
 * action in haproxy-warden.lua), run here from the shipped examples (examples/authz/, only their ports, paths,
 * password and, for HAProxy's failure cases, the authorizer and its deadline changed) in front of a real
 * ClickHouse. A recording relay between each proxy and ClickHouse shows what reached the upstream and with
 * which identity headers. Keys live in a real SQLite store; a revocation is made by the real CLI in another process.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyStore } from '../../keys/index.js';
import { startTestClickHouse, type TestClickHouse } from '../../../test/helpers/clickhouse.js';
import { sendRaw, type RawReply } from '../../../test/helpers/send-raw.js';
import { parseGatewayConfig } from '../config.js';
import { Gateway } from '../gateway.js';

// Below the kernel's ephemeral range, and apart from the other gateway tests' ports.
const CH_HTTP = 21833;
const CH_TCP = 21910;
const NGINX_PORT = 21841;
const CADDY_PORT = 21842;
const HAPROXY_PORT = 21843;
/** HAProxy from the same example, asking an authorizer that misbehaves, and with a Lua action that fails. */
const HAPROXY_BROKEN_AUTHZ_PORT = 21844;
const HAPROXY_LUA_ERROR_PORT = 21845;
/**
 * HAProxy asking an authorizer that is gone: port 1, where nothing listens. Closing a test listener instead
 * would free its port for any other test to take, and that listener's answer would not be a gone authorizer's.
 */
const HAPROXY_GONE_AUTHZ_PORT = 21846;
const CH_PASSWORD = 'authz-upstream-password-4Rt';
const EXAMPLES = fileURLToPath(new URL('../../../examples/authz/', import.meta.url));
const MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
/** Debian's haproxy is installed by scripts/services.sh; without it the HAProxy cases are skipped, saying so. */
const HAPROXY_MISSING = spawnSync('haproxy', ['-v']).error ? 'haproxy is not installed (scripts/services.sh installs it)' : false;
/** The example's deadline for one attempt, shortened for the silent authorizer (HAProxy 2.6 makes up to 4 attempts). */
const BROKEN_AUTHZ_DEADLINE_MS = 250;

/** Raw paths, as written (fetch would normalise `..`). */
const send = (port: number, path: string, headers: Record<string, string> = {}) => sendRaw(`http://127.0.0.1:${port}`, path, { headers });

/** Passes each request on to ClickHouse and keeps its method, target and headers: what reached the upstream. */
async function startTap(
  targetPort: number,
): Promise<{ port: number; seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>; close(): Promise<void> }> {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const up = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, timeout: 10_000 }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

async function startProxy(command: string, args: string[], port: number, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    try {
      await send(port, '/ping');
      return child;
    } catch {
      await sleep(100);
    }
  }
  child.kill('SIGKILL');
  throw new Error(`${command} did not start: ${stderr}`);
}

const reasonOf = (r: { body: string }) => (JSON.parse(r.body) as { reason: string }).reason;

/** One HTTP/2 request without TLS (prior knowledge), which HAProxy's plain bind takes as well as HTTP/1.1. */
function sendH2(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const session = connect(`http://127.0.0.1:${port}`);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...headers });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  }).finally(() => session.close());
}

/**
 * An authorization server that answers by the original URI HAProxy reports: never, with an error, with a
 * reset, with a redirect, with a refusal Warden did not write, or (on /allow) with an allow, so the
 * failures are seen to come from the answer and not from a broken setup.
 */
async function startBrokenAuthz(): Promise<{ port: number; close(): Promise<void> }> {
  const silent: Socket[] = [];
  const server = createServer((req, res) => {
    const path = String(req.headers['x-original-uri']);
    const json = { 'content-type': 'application/json' };
    if (path === '/allow') res.writeHead(200, { 'x-warden-key-id': 'key_from_authz', 'x-warden-owner': 'acme' }).end();
    else if (path === '/silent') silent.push(req.socket);
    else if (path === '/reset') req.socket.destroy();
    else if (path === '/error') res.writeHead(500, json).end('{"error":"internal_error"}');
    else if (path === '/warden-error')
      res
        .writeHead(500, { ...json, 'x-warden-refusal': '{"error":"internal_error","reason":"identity_not_a_header"}' })
        .end('{"error":"internal_error","reason":"identity_not_a_header"}');
    else if (path === '/redirect') res.writeHead(302, { location: '/auth/elsewhere' }).end();
    else if (path === '/not-from-warden') res.writeHead(401, json).end('{"error":"unauthorized","reason":"no_credential"}');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => (silent.forEach((s) => s.destroy()), server.closeAllConnections(), server.close(() => resolve()))),
  };
}

describe('warden gateway --mode authz behind nginx, Caddy and HAProxy, in front of ClickHouse', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-authz-e2e-'));
  const store = join(dir, 'keys.db');
  let ch: TestClickHouse;
  let tap: Awaited<ReturnType<typeof startTap>>;
  let brokenAuthz: Awaited<ReturnType<typeof startBrokenAuthz>> | undefined;
  let admin: KeyStore;
  let gateway: Gateway;
  const proxies: ChildProcess[] = [];
  let reader: { key: string; id: string };
  let inference: string;

  before(async () => {
    process.env.WARDEN_KEY_SECRET = 'authz-e2e-hashing-secret-0123456789';
    ch = await startTestClickHouse({ httpPort: CH_HTTP, tcpPort: CH_TCP, password: CH_PASSWORD });
    tap = await startTap(CH_HTTP);
    admin = await KeyStore.open({ store });
    const created = await admin.create({ owner: 'acme', name: 'reader', scopes: ['clickhouse:read'] });
    reader = { key: created.key, id: created.info.id };
    inference = (await admin.create({ owner: 'acme', name: 'inference', scopes: ['llm:inference'] })).key;
    const gatewayYaml = readFileSync(join(EXAMPLES, 'gateway.yaml'), 'utf8')
      .replace('store: ./keys.db', `store: ${store}`)
      .replace('port: 8481', 'port: 0')
      .replace('port: 8482', 'port: 0');
    gateway = await Gateway.start({ config: parseGatewayConfig(gatewayYaml, 'examples/authz/gateway.yaml', dir), mode: 'authz', accessLog: null });
    const authz = `127.0.0.1:${new URL(gateway.authzUrl!).port}`;
    const upstream = `127.0.0.1:${tap.port}`;

    const nginxDir = join(dir, 'nginx');
    mkdirSync(join(nginxDir, 'tmp'), { recursive: true });
    const server = readFileSync(join(EXAMPLES, 'nginx.conf'), 'utf8')
      .replaceAll('127.0.0.1:8481', authz)
      .replaceAll('127.0.0.1:8123', upstream)
      .replace('listen 127.0.0.1:8080', `listen 127.0.0.1:${NGINX_PORT}`)
      .replace('"change-me"', `"${CH_PASSWORD}"`);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${nginxDir}/tmp/${t};`).join('\n');
    writeFileSync(
      join(nginxDir, 'nginx.conf'),
      `worker_processes 1;\npid ${nginxDir}/nginx.pid;\nerror_log ${nginxDir}/error.log warn;\nevents { worker_connections 256; }\nhttp {\n  access_log off;\n${temp}\n${server}\n}\n`,
    );
    proxies.push(
      await startProxy(
        'nginx',
        ['-e', join(nginxDir, 'error.log'), '-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-g', 'daemon off;'],
        NGINX_PORT,
        process.env,
      ),
    );

    const caddyDir = join(dir, 'caddy');
    mkdirSync(caddyDir);
    const caddyfile = readFileSync(join(EXAMPLES, 'Caddyfile'), 'utf8')
      .replaceAll('127.0.0.1:8481', authz)
      .replaceAll('127.0.0.1:8123', upstream)
      .replace(':8080 {', `:${CADDY_PORT} {`);
    writeFileSync(join(caddyDir, 'Caddyfile'), caddyfile);
    const caddyEnv = { ...process.env, HOME: caddyDir, XDG_CONFIG_HOME: caddyDir, XDG_DATA_HOME: caddyDir, CLICKHOUSE_PASSWORD: CH_PASSWORD };
    proxies.push(await startProxy('caddy', ['run', '--config', join(caddyDir, 'Caddyfile'), '--adapter', 'caddyfile'], CADDY_PORT, caddyEnv));

    if (HAPROXY_MISSING) return;
    const haproxyDir = join(dir, 'haproxy');
    mkdirSync(haproxyDir);
    const luaErrorScript = join(haproxyDir, 'lua-error.lua');
    writeFileSync(luaErrorScript, `core.register_action('warden_authz', { 'http-req' }, function() error('broken') end, 3)\n`);
    brokenAuthz = await startBrokenAuthz();
    const haproxyCfg = (port: number, lua: string, authzAddress: string, deadline = '1000') =>
      readFileSync(join(EXAMPLES, 'haproxy.cfg'), 'utf8')
        .replace('/etc/haproxy/haproxy-warden.lua', lua)
        .replace('http://127.0.0.1:8481/auth X-Warden-Key-Id,X-Warden-Owner 1000', `http://${authzAddress}/auth X-Warden-Key-Id,X-Warden-Owner ${deadline}`)
        .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${port}`)
        .replace('server clickhouse 127.0.0.1:8123', `server clickhouse ${upstream}`);
    const haproxyEnv = { ...process.env, CLICKHOUSE_PASSWORD: CH_PASSWORD };
    const instances: Array<[number, string]> = [
      [HAPROXY_PORT, haproxyCfg(HAPROXY_PORT, join(EXAMPLES, 'haproxy-warden.lua'), authz)],
      [
        HAPROXY_BROKEN_AUTHZ_PORT,
        haproxyCfg(HAPROXY_BROKEN_AUTHZ_PORT, join(EXAMPLES, 'haproxy-warden.lua'), `127.0.0.1:${brokenAuthz.port}`, String(BROKEN_AUTHZ_DEADLINE_MS)),
      ],
      [HAPROXY_LUA_ERROR_PORT, haproxyCfg(HAPROXY_LUA_ERROR_PORT, luaErrorScript, authz)],
      [HAPROXY_GONE_AUTHZ_PORT, haproxyCfg(HAPROXY_GONE_AUTHZ_PORT, join(EXAMPLES, 'haproxy-warden.lua'), '127.0.0.1:1', String(BROKEN_AUTHZ_DEADLINE_MS))],
    ];
    for (const [port, cfg] of instances) {
      writeFileSync(join(haproxyDir, `${port}.cfg`), cfg);
      proxies.push(await startProxy('haproxy', ['-db', '-f', join(haproxyDir, `${port}.cfg`)], port, haproxyEnv));
    }
  });

  after(async () => {
    for (const p of proxies) p.kill('SIGTERM');
    await gateway?.close();
    await admin?.close();
    await tap?.close();
    await brokenAuthz?.close();
    await ch?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // nginx passes only 401 and 403 on from auth_request; any other answer of Warden's (400) is an error to it, answered 500.
  const doors = [
    { name: 'nginx auth_request', port: NGINX_PORT, passesEveryRefusal: false, skip: false as string | false },
    { name: 'Caddy forward_auth', port: CADDY_PORT, passesEveryRefusal: true, skip: false as string | false },
    { name: 'HAProxy Lua action', port: HAPROXY_PORT, passesEveryRefusal: true, skip: HAPROXY_MISSING },
  ];

  /** A request the proxy must refuse, and that must not reach ClickHouse. */
  async function refused(port: number, path: string, headers: Record<string, string>): Promise<RawReply> {
    const before = tap.seen.length;
    const r = await send(port, path, headers);
    assert.equal(tap.seen.length, before, `${path} reached the upstream`);
    return r;
  }

  for (const door of doors) {
    it(`${door.name}: a valid key reaches ClickHouse with Warden's identity headers only, and without its own credential`, { skip: door.skip }, async () => {
      const r = await send(door.port, '/?query=SELECT%201', { 'x-api-key': reader.key, 'x-warden-owner': 'mallory', 'x-warden-key-id': 'forged' });
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body, '1\n', 'answered by ClickHouse');
      const got = tap.seen.at(-1)!;
      assert.equal(got.url, '/?query=SELECT%201');
      assert.equal(got.headers['x-warden-key-id'], reader.id);
      assert.equal(got.headers['x-warden-owner'], 'acme');
      assert.equal(got.headers['x-api-key'], undefined);
      assert.equal(got.headers.authorization, undefined);
      const bearer = await send(door.port, '/?query=SELECT%202', { authorization: `Bearer ${reader.key}` });
      assert.equal(bearer.body, '2\n');
      assert.equal(tap.seen.at(-1)!.headers.authorization, undefined);
    });

    it(`${door.name}: a public endpoint passes without a credential, and a client's own identity headers do not`, { skip: door.skip }, async () => {
      const r = await send(door.port, '/ping', { 'x-warden-owner': 'mallory', 'x-warden-key-id': 'forged' });
      assert.equal(r.status, 200);
      assert.equal(r.body, 'Ok.\n');
      const got = tap.seen.at(-1)!;
      assert.equal(got.url, '/ping');
      // Absent (nginx sends no empty header) or empty (Caddy copies Warden's empty value): never the client's.
      assert.ok(!got.headers['x-warden-owner'], String(got.headers['x-warden-owner']));
      assert.ok(!got.headers['x-warden-key-id'], String(got.headers['x-warden-key-id']));
    });

    it(
      `${door.name}: no key, a key without the scope, and an administration endpoint with an inference key stop at the proxy with Warden's JSON reason`,
      { skip: door.skip },
      async () => {
        const none = await refused(door.port, '/?query=SELECT%201', {});
        assert.equal(none.status, 401);
        assert.equal(reasonOf(none), 'no_credential');
        assert.match(String(none.headers['www-authenticate']), /^Bearer realm="warden-gateway"/);
        const scope = await refused(door.port, '/?query=SELECT%201', { 'x-api-key': inference });
        assert.equal(scope.status, 403);
        assert.equal(reasonOf(scope), 'scope');
        const adminPage = await refused(door.port, '/play', { 'x-api-key': inference });
        assert.equal(adminPage.status, 403);
        assert.equal(reasonOf(adminPage), 'not_allowed');
        assert.equal((await refused(door.port, '/play', { 'x-api-key': reader.key })).status, 403);
      },
    );

    it(
      `${door.name}: encoded dot segments, a forged report of the URI and the upstream's own credential never reach ClickHouse`,
      { skip: door.skip },
      async () => {
        const expected = door.passesEveryRefusal ? 400 : 500;
        for (const path of ['/%2e%2e/play', '/%2E%2E/play?query=SELECT%201', '/x/..;/play', '/.%2e/play', '/%2fplay', '//play']) {
          const r = await refused(door.port, path, { 'x-api-key': reader.key });
          // nginx itself refuses a path that climbs above the root once decoded (400, its own page).
          assert.ok(r.status === expected || r.status === 400, `${path}: ${r.status}`);
          if (String(r.headers['content-type']).startsWith('application/json')) assert.equal(reasonOf(r), 'ambiguous_path', path);
        }
        const forged = await refused(door.port, '/play', {
          'x-api-key': reader.key,
          'x-original-uri': '/?query=SELECT%201',
          'x-original-method': 'GET',
          'x-forwarded-uri': '/?query=SELECT%201',
          'x-forwarded-method': 'GET',
        });
        assert.equal(forged.status, expected);
        const ownLogin = await refused(door.port, '/?query=SELECT%201&password=x', { 'x-api-key': reader.key });
        assert.equal(ownLogin.status, expected);
        if (expected === 400) assert.equal(reasonOf(ownLogin), 'upstream_credential');
      },
    );
  }

  it('stops a key revoked by another process within one second, at every proxy', async () => {
    const running = doors.filter((door) => !door.skip);
    const { key, info } = await admin.create({ owner: 'acme', name: 'to-revoke', scopes: ['clickhouse:read'] });
    for (const door of running) assert.equal((await send(door.port, '/?query=SELECT%201', { 'x-api-key': key })).status, 200);
    const script = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(${JSON.stringify(['keys', 'revoke', info.id, '--reason', 'test', '--store', store])});`;
    const revoke = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: process.env, encoding: 'utf8' });
    const revokedBy = Date.now();
    assert.equal(revoke.status, 0, revoke.stderr);
    for (const door of running) {
      let r = await send(door.port, '/?query=SELECT%201', { 'x-api-key': key });
      while (r.status === 200 && Date.now() - revokedBy < 3000) {
        await sleep(20);
        r = await send(door.port, '/?query=SELECT%201', { 'x-api-key': key });
      }
      const took = Date.now() - revokedBy;
      assert.equal(r.status, 401, door.name);
      assert.equal(reasonOf(r), 'key_revoked');
      assert.ok(took < 1000, `${door.name}: took ${took} ms`);
    }
  });

  it('HAProxy over HTTP/2 reports the original URI in origin-form, so the same requests pass and stop', { skip: HAPROXY_MISSING }, async () => {
    const valid = await sendH2(HAPROXY_PORT, '/?query=SELECT%203', { 'x-api-key': reader.key });
    assert.equal(valid.status, 200, valid.body);
    assert.equal(valid.body, '3\n');
    assert.equal(tap.seen.at(-1)!.url, '/?query=SELECT%203');
    assert.equal(tap.seen.at(-1)!.headers['x-warden-key-id'], reader.id);
    const before = tap.seen.length;
    const dots = await sendH2(HAPROXY_PORT, '/%2e%2e/play', { 'x-api-key': reader.key });
    assert.equal(dots.status, 400);
    assert.equal(reasonOf(dots), 'ambiguous_path');
    assert.equal((await sendH2(HAPROXY_PORT, '/?query=SELECT%201', { 'x-api-key': inference })).status, 403);
    assert.equal(tap.seen.length, before, 'a refused request reached the upstream');
  });

  it(
    'HAProxy fails closed when the authorizer is silent, errs, resets, redirects, answers as not Warden, or is gone, and when the Lua action fails',
    { skip: HAPROXY_MISSING },
    async () => {
      const allowed = await send(HAPROXY_BROKEN_AUTHZ_PORT, '/allow');
      assert.notEqual(allowed.status, 503, 'the allow of the broken authorizer passes: the setup works');
      assert.equal(tap.seen.at(-1)!.headers['x-warden-key-id'], 'key_from_authz');
      const started = Date.now();
      const silent = await refused(HAPROXY_BROKEN_AUTHZ_PORT, '/silent', { 'x-api-key': reader.key });
      const took = Date.now() - started;
      // HAProxy 2.6 makes four attempts of 250 ms (about 1 s); the rest is room for a busy machine.
      assert.equal(silent.status, 503);
      assert.equal(reasonOf(silent), 'authz_unavailable');
      assert.ok(took < 4 * BROKEN_AUTHZ_DEADLINE_MS + 2000, `a silent authorizer took ${took} ms to refuse`);
      for (const path of ['/reset', '/error', '/redirect', '/not-from-warden']) {
        const r = await refused(HAPROXY_BROKEN_AUTHZ_PORT, path, { 'x-api-key': reader.key });
        assert.equal(r.status, 503, path);
        assert.equal(reasonOf(r), 'authz_unavailable', path);
      }
      // Warden's own 5xx refusal keeps its reason, as a 503.
      const wardenError = await refused(HAPROXY_BROKEN_AUTHZ_PORT, '/warden-error', { 'x-api-key': reader.key });
      assert.equal(wardenError.status, 503);
      assert.equal(reasonOf(wardenError), 'identity_not_a_header');
      const gone = await refused(HAPROXY_GONE_AUTHZ_PORT, '/allow', { 'x-api-key': reader.key });
      assert.equal(gone.status, 503);
      assert.equal(reasonOf(gone), 'authz_unavailable');

      const luaError = await refused(HAPROXY_LUA_ERROR_PORT, '/?query=SELECT%201', { 'x-api-key': reader.key });
      assert.equal(luaError.status, 503);
      assert.equal(reasonOf(luaError), 'authz_unavailable');
    },
  );
});
