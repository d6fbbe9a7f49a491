/**
 * The gateway in front of real services: Debian's clickhouse-server and prometheus, started here as
 * child processes on their own loopback ports, and a local server-sent-events upstream. Keys live in
 * a real SQLite store; a revocation is made by the real CLI in another process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyStore } from '../keys/index.js';
import { loadProbes, scan } from '../scan/index.js';
import { sendRaw } from '../../test/helpers/send-raw.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { freePort } from '../../test/helpers/free-port.js';
import { createScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { Gateway } from './gateway.js';
import { loadGatewayConfig, parseGatewayConfig } from './config.js';
import { startTestPrometheus, type TestPrometheus } from '../../test/helpers/prometheus.js';
import { SSE_TOKENS, startSseUpstream, type TestSseUpstream } from './test-upstreams.js';

// Below the kernel's ephemeral range (32768+), so no outgoing connection can hold them.
const CH_HTTP = 21823;
const CH_TCP = 21900;
const PROM_PORT = 21090;
const CH_PASSWORD = 'upstream-only-password-7Qx';
const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

/** Raw HTTP so paths reach the gateway exactly as written. */
const send = sendRaw;

function config(dir: string, sse: string, extraLlmAllow = ''): string {
  return `
listen:
  port: 0
keys:
  store: ${join(dir, 'keys.db')}
metrics:
  port: 0
assertion:
  ttlSeconds: 30
routes:
  - name: prometheus
    match: { pathPrefix: /prom }
    stripPrefix: true
    upstream: { url: "http://127.0.0.1:${PROM_PORT}", profile: prometheus }
    public: [health]
    allow:
      - { classes: [read], scopes: ["prometheus:read"] }
  - name: llm
    match: { pathPrefix: /llm }
    stripPrefix: true
    upstream: { url: "${sse}", profile: vllm, timeoutMs: 2000 }
    allow:
      - { endpoints: [chat, models], scopes: ["llm:inference"] }${extraLlmAllow}
    identityHeaders: { X-Warden-Key-Id: keyId, X-Warden-Owner: owner }
    assertion: true
  - name: grafana-live
    match: { pathPrefix: /grafana }
    stripPrefix: true
    upstream: { url: "${sse}", profile: grafana }
    allow:
      - { endpoints: [live-ws], scopes: ["llm:inference"] }
  - name: clickhouse
    match: { host: 127.0.0.1 }
    upstream:
      url: "http://127.0.0.1:${CH_HTTP}"
      profile: clickhouse
      injectHeaders:
        X-ClickHouse-User: { env: GATEWAY_TEST_CH_USER }
        X-ClickHouse-Key: { env: GATEWAY_TEST_CH_PASSWORD }
    public: [ping]
    allow:
      - { classes: [read], methods: [GET], scopes: ["clickhouse:read"] }
`;
}

describe('warden gateway in front of ClickHouse, Prometheus and an SSE model server', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-gateway-'));
  const configPath = join(dir, 'gateway.yaml');
  const log = new PassThrough();
  let logText = '';
  log.on('data', (c: Buffer) => (logText += c.toString()));
  let ch: TestClickHouse;
  let prom: TestPrometheus;
  let sse: TestSseUpstream;
  let admin: KeyStore;
  let gateway: Gateway;
  let reader: { key: string; id: string };
  let outsider: { key: string; id: string };
  let watcher: { key: string; id: string };

  before(async () => {
    process.env.WARDEN_KEY_SECRET = 'gateway-test-hashing-secret-0123456789';
    process.env.GATEWAY_TEST_CH_USER = 'default';
    process.env.GATEWAY_TEST_CH_PASSWORD = CH_PASSWORD;
    const started = await Promise.allSettled([
      startTestClickHouse({ httpPort: CH_HTTP, tcpPort: CH_TCP, password: CH_PASSWORD }),
      startTestPrometheus(PROM_PORT),
      startSseUpstream(),
    ] as const);
    if (started[0].status === 'fulfilled') ch = started[0].value;
    if (started[1].status === 'fulfilled') prom = started[1].value;
    if (started[2].status === 'fulfilled') sse = started[2].value;
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    writeFileSync(configPath, config(dir, sse.url));
    admin = await KeyStore.open({ store: join(dir, 'keys.db') });
    const made = async (scopes: string[]) => {
      const { key, info } = await admin.create({ owner: 'acme', name: scopes.join(' '), scopes });
      return { key, id: info.id };
    };
    reader = await made(['clickhouse:read', 'prometheus:read', 'llm:inference']);
    outsider = await made(['billing:read']);
    watcher = await made(['gateway:metrics']);
    gateway = await Gateway.start({ config: loadGatewayConfig(configPath), configPath, accessLog: log });
  });

  after(async () => {
    await gateway?.close();
    await admin?.close();
    await Promise.all([ch?.stop(), prom?.stop(), sse?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request without a credential with 401 and a JSON error', async () => {
    const r = await send(gateway.url, '/?query=SELECT%201');
    assert.equal(r.status, 401);
    assert.match(String(r.headers['www-authenticate']), /^Bearer/);
    assert.deepEqual(JSON.parse(r.body), { error: 'unauthorized', reason: 'no_credential', message: 'a valid credential is required', route: 'clickhouse' });
  });

  it('refuses a key without the route scope with 403, and a bad key with 401', async () => {
    const r = await send(gateway.url, '/?query=SELECT%201', { headers: { 'x-api-key': outsider.key } });
    assert.equal(r.status, 403);
    assert.equal(JSON.parse(r.body).reason, 'scope');
    const bogus = await send(gateway.url, '/?query=SELECT%201', { headers: { authorization: 'Bearer wdn_live_notAKeyAtAll' } });
    assert.equal(bogus.status, 401);
  });

  it('gives a valid key the upstream answer: ClickHouse with the injected database login, and Prometheus', async () => {
    // The server has a password the client never sends: only the injected login gets this answer.
    const r = await send(gateway.url, '/?query=SELECT%201%2B1', { headers: { 'x-api-key': reader.key } });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.body, '2\n');
    const bearer = await send(gateway.url, '/?query=SELECT%2042', { headers: { authorization: `Bearer ${reader.key}` } });
    assert.equal(bearer.body, '42\n');
    const p = await send(gateway.url, '/prom/api/v1/query?query=up', { headers: { 'x-api-key': reader.key } });
    assert.equal(p.status, 200, p.body);
    assert.equal(JSON.parse(p.body).status, 'success');
    assert.equal((await send(gateway.url, '/prom/-/healthy')).status, 200, 'health is public on this route');
  });

  it('denies by default: unnamed paths, named administration, write methods, unknown hosts and ambiguous paths', async () => {
    const h = { 'x-api-key': reader.key };
    assert.equal(JSON.parse((await send(gateway.url, '/llm/unlisted', { headers: h })).body).reason, 'not_in_profile');
    for (const path of ['/llm/invocations', '/llm/sleep', '/llm/collective_rpc']) {
      const r = await send(gateway.url, path, { method: 'POST', headers: h, body: '{}' });
      assert.equal(r.status, 403, path);
      assert.equal(JSON.parse(r.body).reason, 'not_allowed', path);
    }
    assert.notEqual(sse.lastTarget(), '/invocations', 'the upstream was never asked');
    assert.equal((await send(gateway.url, '/play', { headers: h })).status, 403);
    assert.equal((await send(gateway.url, '/', { method: 'POST', headers: h, body: 'DROP TABLE x' })).status, 403);
    assert.equal((await send(gateway.url, '/prom/api/v1/admin/tsdb/snapshot', { method: 'POST', headers: h })).status, 403);
    const unknownHost = await send(gateway.url, '/?query=SELECT%201', { headers: { ...h, host: 'elsewhere.example' } });
    assert.deepEqual([unknownHost.status, JSON.parse(unknownHost.body).reason], [403, 'no_route']);
    for (const path of ['/llm/v1/../invocations', '/llm/v1/%2e%2e/invocations', '/llm//invocations']) {
      assert.equal((await send(gateway.url, path, { method: 'POST', headers: h, body: '{}' })).status, 400, path);
    }
  });

  it('strips credentials, sets identity headers and a signed assertion the upstream can verify', async () => {
    const r = await send(gateway.url, '/llm/v1/models', { headers: { 'x-api-key': reader.key, 'x-warden-key-id': 'forged', 'x-warden-assertion': 'forged' } });
    assert.equal(r.status, 200, r.body);
    const seen = sse.lastHeaders()!;
    assert.equal(seen['x-api-key'], undefined);
    assert.equal(seen.authorization, undefined);
    assert.equal(seen['x-warden-key-id'], reader.id);
    assert.equal(seen['x-warden-owner'], 'acme');
    const assertion = String(seen['x-warden-assertion']);
    const [h, c, s] = assertion.split('.');
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as { kid: string; alg: string };
    const claims = JSON.parse(Buffer.from(c!, 'base64url').toString()) as { sub: string; aud: string; exp: number };
    assert.deepEqual([header.alg, claims.sub, claims.aud], ['ES256', reader.id, 'llm']);
    const jwks = JSON.parse((await send(gateway.url, '/.well-known/warden-gateway/jwks.json')).body) as { keys: Array<{ kid: string }> };
    const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
    const ok = verify(
      'sha256',
      Buffer.from(`${h}.${c}`),
      { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      Buffer.from(s!, 'base64url'),
    );
    assert.ok(ok, 'assertion verifies against the published JWKS');
    assert.ok(claims.exp * 1000 - Date.now() <= 31_000);
  });

  it('streams server-sent events token by token, not buffered', async () => {
    const u = new URL(gateway.url);
    const arrivals: Array<{ at: number; text: string }> = [];
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          method: 'POST',
          path: '/llm/v1/chat/completions',
          headers: { authorization: `Bearer ${reader.key}`, 'content-type': 'application/json' },
        },
        (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream');
          res.setEncoding('utf8');
          res.on('data', (c: string) => arrivals.push({ at: Date.now() - started, text: c }));
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end('{"stream":true}');
    });
    const text = arrivals.map((a) => a.text).join('');
    const tokens = [...text.matchAll(/"content":"([^"]*)"/g)].map((m) => m[1]);
    assert.deepEqual(tokens, SSE_TOKENS);
    assert.ok(arrivals.length >= SSE_TOKENS.length - 1, `arrived in ${arrivals.length} pieces`);
    assert.ok(arrivals[arrivals.length - 1]!.at - arrivals[0]!.at >= 200, 'pieces arrived as they were produced');
    assert.match(arrivals[0]!.text, /"Hel"/, 'the first token came alone');
  });

  it('ends the upstream exchange when the client goes away mid-stream, and logs it as aborted', async () => {
    const u = new URL(gateway.url);
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/llm/v1/chat/completions', headers: { 'x-api-key': reader.key } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      req.end('{}');
      setTimeout(() => reject(new Error('no first chunk')), 5000).unref();
    });
    await new Promise((r) => setTimeout(r, 100));
    const line = logText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; status: number; reason?: string })
      .filter((l) => l.path === '/llm/v1/chat/completions')
      .pop();
    assert.equal(line?.status, 200);
    assert.equal(line?.reason, 'upstream_aborted');
  });

  it('passes a WebSocket upgrade through after the same checks', async () => {
    const u = new URL(gateway.url);
    const handshake = (extra: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(u.port), u.hostname);
        let got = '';
        let pinged = false;
        socket.on('data', (c) => {
          got += c.toString();
          if (!got.includes('\r\n\r\n')) return;
          if (!got.startsWith('HTTP/1.1 101') || got.includes('ping-through-gateway')) socket.end();
          else if (!pinged) {
            pinged = true;
            socket.write('ping-through-gateway');
          }
        });
        socket.on('close', () => resolve(got));
        socket.on('error', reject);
        socket.write(`GET /grafana/api/live/ws HTTP/1.1\r\nhost: ${u.host}\r\nconnection: Upgrade\r\nupgrade: websocket\r\n${extra}\r\n`);
      });
    assert.match(await handshake(''), /^HTTP\/1\.1 401/);
    const through = await handshake(`x-api-key: ${reader.key}\r\n`);
    assert.match(through, /^HTTP\/1\.1 101/);
    assert.match(through, /ping-through-gateway/);
  });

  it('forwards request bodies, drops a client copy of an injected header, answers 504 and 502 for a silent or absent upstream, and logs a client that leaves as 499', async () => {
    // A listener that accepts and never answers, and a port with nothing behind it.
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const closedPort = await freePort();
    process.env.GATEWAY_TEST_INJECTED = 'from-the-gateway';
    const yaml = `
listen: { port: 0 }
keys: { store: ${join(dir, 'keys.db')} }
routes:
  - name: llm
    match: { pathPrefix: /llm }
    stripPrefix: true
    upstream: { url: "${sse.url}", profile: openai-compatible, injectHeaders: { X-Injected: { env: GATEWAY_TEST_INJECTED } } }
    allow: [{ endpoints: [chat, models], scopes: ["llm:inference"] }]
  - name: silent
    match: { pathPrefix: /silent }
    stripPrefix: true
    upstream: { url: "http://127.0.0.1:${(silent.address() as AddressInfo).port}", profile: openai-compatible, timeoutMs: 300 }
    allow: [{ endpoints: [models], scopes: ["llm:inference"] }]
  - name: absent
    match: { pathPrefix: /absent }
    stripPrefix: true
    upstream: { url: "http://127.0.0.1:${closedPort}", profile: openai-compatible }
    allow: [{ endpoints: [models], scopes: ["llm:inference"] }]
`;
    const edgeLog = new PassThrough();
    let edgeLogText = '';
    edgeLog.on('data', (c: Buffer) => (edgeLogText += c.toString()));
    const edge = await Gateway.start({ config: parseGatewayConfig(yaml, 'inline', dir), accessLog: edgeLog });
    try {
      const h = { 'x-api-key': reader.key };
      const body = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(200_000) }] });
      const chat = await send(edge.url, '/llm/v1/chat/completions', {
        method: 'POST',
        headers: { ...h, 'content-type': 'application/json', 'x-injected': 'forged' },
        body,
      });
      assert.equal(chat.status, 200);
      assert.equal(sse.lastBody(), body, 'the request body arrived whole');
      assert.equal(sse.lastHeaders()!['x-injected'], 'from-the-gateway', 'only the gateway copy of an injected header reaches the upstream');
      const slow = await send(edge.url, '/silent/v1/models', { headers: h });
      assert.equal(slow.status, 504);
      assert.equal(JSON.parse(slow.body).error, 'upstream_timeout');
      const gone = await send(edge.url, '/absent/v1/models', { headers: h });
      assert.equal(gone.status, 502);
      assert.equal(JSON.parse(gone.body).error, 'upstream_unreachable');
      // A client that leaves while the upstream is still silent: its own doing, not the upstream's failure.
      const u = new URL(edge.url);
      const leaving = request({ host: u.hostname, port: u.port, path: '/silent/v1/models?leaving=1', headers: h });
      leaving.on('error', () => undefined);
      leaving.end();
      await new Promise((r) => setTimeout(r, 100));
      leaving.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const left = edgeLogText
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { path: string; status: number; reason?: string })
        .find((l) => l.path.includes('leaving=1'));
      assert.deepEqual([left?.status, left?.reason], [499, 'upstream_aborted']);
    } finally {
      await edge.close();
      silent.close();
    }
  });

  it('stops a key revoked by another process within one second', async () => {
    const { key, info } = await admin.create({ owner: 'acme', name: 'to-revoke', scopes: ['clickhouse:read'] });
    assert.equal((await send(gateway.url, '/?query=SELECT%201', { headers: { 'x-api-key': key } })).status, 200);
    const script = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(${JSON.stringify(['keys', 'revoke', info.id, '--reason', 'test', '--store', join(dir, 'keys.db')])});`;
    const revoke = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: process.env, encoding: 'utf8' });
    const revokedBy = Date.now();
    assert.equal(revoke.status, 0, revoke.stderr);
    let status = 200;
    while (status === 200 && Date.now() - revokedBy < 3000) {
      status = (await send(gateway.url, '/?query=SELECT%201', { headers: { 'x-api-key': key } })).status;
      if (status === 200) await new Promise((r) => setTimeout(r, 20));
    }
    const took = Date.now() - revokedBy;
    assert.equal(status, 401);
    assert.ok(took < 1000, `took ${took} ms`);
  });

  it('keeps credentials out of the access log and away from the upstream', async () => {
    const leaked = 'sk-proj-' + 'Ab3'.repeat(20) + 'T3BlbkFJ' + 'Zx9'.repeat(20);
    const r = await send(gateway.url, '/?user=default&password=hunter2-query-secret&query=SELECT%201', { headers: { 'x-api-key': reader.key } });
    assert.equal(r.status, 200, r.body);
    const p = await send(gateway.url, `/prom/api/v1/query?query=up&api_key=${leaked}`, { headers: { 'x-api-key': reader.key } });
    assert.equal(p.status, 200, p.body);
    await new Promise((resolve) => setImmediate(resolve));
    const lines = logText
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { path: string; identity: { id: string } | null; route: string | null; status: number; bytes: number; latencyMs: number });
    const line = lines.filter((l) => l.path.startsWith('/?user='))[0]!;
    assert.ok(line, logText.slice(-500));
    assert.equal(line.identity?.id, reader.id);
    assert.equal(line.route, 'clickhouse');
    assert.equal(line.status, 200);
    assert.ok(line.bytes > 0 && line.latencyMs > 0);
    for (const secret of ['hunter2-query-secret', leaked, 'T3BlbkFJ', reader.key, CH_PASSWORD, reader.key.slice(9, 30)])
      assert.ok(!logText.includes(secret), 'a credential reached the access log');
  });

  it('is reported by the scanner as a ClickHouse that requires authentication', async () => {
    const port = Number(new URL(gateway.url).port);
    const probes = (await loadProbes()).filter((p) => p.id === 'clickhouse-http');
    const report = await scan({ targets: [`127.0.0.1:${port}`], probes });
    const finding = report.findings.find((f) => f.probe === 'clickhouse-http');
    assert.ok(finding, JSON.stringify(report.findings));
    assert.equal(finding.auth, 'required');
  });

  it('serves Prometheus metrics on its own listener, to a key with the metrics scope only', async () => {
    const url = gateway.metricsUrl!;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${reader.key}` } })).status, 403);
    const res = await fetch(url, { headers: { authorization: `Bearer ${watcher.key}` } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /warden_gateway_requests_total\{route="clickhouse",code="2xx"\} \d+/);
    assert.match(text, /warden_gateway_refusals_total\{route="clickhouse",reason="no_credential"\} \d+/);
    assert.match(text, /warden_gateway_request_duration_seconds_bucket\{route="llm",le="\+Inf"\} \d+/);
    assert.equal((await send(gateway.url, '/metrics', { headers: { 'x-api-key': watcher.key } })).status, 403, 'not on the proxy listener');
  });

  it('reloads on a file change without dropping an open stream, and keeps the old config when the new one is bad', async () => {
    const watched = await Gateway.start({ config: loadGatewayConfig(configPath), configPath, watch: true, accessLog: null, log: () => undefined });
    try {
      const h = { 'x-api-key': reader.key };
      assert.equal((await send(watched.url, '/llm/sleep', { method: 'POST', headers: h })).status, 403);
      const u = new URL(watched.url);
      const stream = new Promise<string>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, method: 'POST', path: '/llm/v1/chat/completions', headers: h }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end('{}');
      });
      writeFileSync(configPath, config(dir, sse.url, '\n      - { classes: [administration], scopes: ["llm:inference"] }'));
      const deadline = Date.now() + 15_000;
      let status = 403;
      while (status === 403 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await send(watched.url, '/llm/sleep', { method: 'POST', headers: h })).status;
      }
      assert.equal(status, 200, 'the new policy applies');
      assert.match(await stream, /\[DONE\]/, 'the stream open across the reload completed');
      writeFileSync(configPath, `${config(dir, sse.url)}\n  - name: broken\n    upstream: { url: "ftp://x", profile: vllm }\n    allow: []\n`);
      const result = await watched.reload();
      assert.equal(result.ok, false);
      assert.match(result.error!, /gateway\.yaml:\d+: routes\.4\.upstream\.url/);
      assert.equal((await send(watched.url, '/llm/sleep', { method: 'POST', headers: h })).status, 200, 'the running config stayed');
    } finally {
      writeFileSync(configPath, config(dir, sse.url));
      await watched.close();
    }
  });

  it('fails closed with 503 once the key store is gone past its staleness bound', async () => {
    const db = await createScratchDatabase();
    const keys = await KeyStore.open({ store: db.url, maxStalenessMs: 300 });
    const { key } = await keys.create({ owner: 'o', name: 'pg', scopes: ['clickhouse:read'] });
    const cfg = parseGatewayConfig(config(dir, sse.url), 'inline', dir);
    const pgGateway = await Gateway.start({ config: { ...cfg, metrics: null }, keys, accessLog: null });
    try {
      assert.equal((await send(pgGateway.url, '/?query=SELECT%201', { headers: { 'x-api-key': key } })).status, 200);
      await db.drop();
      await new Promise((r) => setTimeout(r, 400));
      const r = await send(pgGateway.url, '/?query=SELECT%201', { headers: { 'x-api-key': key } });
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).error, 'unavailable');
    } finally {
      await pgGateway.close();
      await keys.close();
    }
  });

  it('never logs the ClickHouse password it injects', () => {
    assert.ok(!readFileSync(configPath, 'utf8').includes(CH_PASSWORD));
    assert.ok(!logText.includes(CH_PASSWORD));
  });
});
