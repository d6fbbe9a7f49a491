// What the daemon's HTTP face refuses, over real HTTP to a real daemon on a real SQLite store: sessions
// checked against their key at each request (from the request's own address: the client sockets bind
// 127.0.0.x, all loopback on Linux), malformed escapes, and the per-address limit on wrong keys.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../config/index.js';
import { KeyStore, parseKeySecrets } from '../keys/index.js';
import { openStore, type Store } from '../store/index.js';
import { sourceOf } from './auth-failures.js';
import { examplePath } from '../../test/helpers/route-paths.js';
import { API_ROUTES, DASHBOARD_ROUTES, PUBLIC_PAGE_ROUTES } from './http.js';
import { SESSION_COOKIE, type ServeDaemon } from './index.js';
import { startTestServe } from '../../test/helpers/serve.js';
import { syntheticFinding } from './test-support.js';
import { STORE_KINDS, type StoreLocation } from '../../test/helpers/store-kinds.js';
import { waitUntil } from '../../test/helpers/wait.js';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface CallOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client's address (any 127.0.0.0/8 address works on Linux loopback). */
  from?: string;
}

/** One request on its own connection from `from`; the path is sent exactly as written. */
function call(base: string, path: string, options: CallOptions = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        localAddress: options.from ?? '127.0.0.1',
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${path} within 5 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

function cookieValue(answer: Answer, name: string): string | undefined {
  for (const c of answer.headers['set-cookie'] ?? []) if (c.startsWith(`${name}=`)) return c.slice(name.length + 1).split(';')[0];
  return undefined;
}

const formOf = (fields: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() });

/** Posts the login form from `from`, after fetching it there (it carries its own CSRF cookie). */
async function postLogin(base: string, key: string, from = '127.0.0.1'): Promise<Answer> {
  const csrf = cookieValue(await call(base, '/login', { from }), 'warden_login')!;
  const { body, ...headers } = formOf({ csrf, key });
  return call(base, '/login', { method: 'POST', from, body, headers: { ...headers, cookie: `warden_login=${csrf}` } });
}

async function login(base: string, key: string, from = '127.0.0.1'): Promise<string> {
  const answer = await postLogin(base, key, from);
  assert.equal(answer.status, 303, answer.body);
  assert.equal(answer.headers.location, '/');
  return cookieValue(answer, SESSION_COOKIE)!;
}

describe('warden serve HTTP refusals', () => {
  let where: StoreLocation;
  let store: Store;
  let daemon: ServeDaemon;
  /** Another process's view of the same keys, as `warden keys update` would have. */
  let otherKeys: KeyStore;
  let adminKey = '';
  const logs: string[] = [];
  const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
  const finding = syntheticFinding('127.0.0.1', 6390);
  const findingPath = `/findings/lab/${encodeURIComponent(finding.id)}`;

  before(async () => {
    where = await STORE_KINDS[0]!.make();
    store = openStore(where.location);
    const config = parseConfig('version: 1\ninventories:\n  - {name: lab, targets: ["127.0.0.1:6390"], every: 1h}\n', '/tmp/warden.yaml', {});
    daemon = await startTestServe({
      config,
      store,
      secrets,
      schedule: false,
      announceKey: (k) => (adminKey = k),
      log: (l) => logs.push(l),
    });
    const run = (await daemon.history.claimRun('lab', 'test', 'http.test'))!;
    await daemon.history.completeRun(run.id, 'lab', {
      findings: [finding],
      stats: { endpoints: 1, open: 1 },
      unconfirmed: 0,
      flapWindowMs: 86_400_000,
      redact: (t) => t,
    });
    otherKeys = await KeyStore.open({ store: where.location, secrets });
  });
  after(async () => {
    await otherKeys?.close();
    await daemon?.close();
    await store?.close();
    await where?.cleanup();
  });

  it('refuses every route of its tables without a key or session', async () => {
    assert.deepEqual(
      PUBLIC_PAGE_ROUTES.map((r) => `${r.method} ${r.path}`),
      ['GET /assets/warden.css', 'GET /login', 'POST /login'],
      'the only public routes',
    );
    const samples = { inventory: 'lab', id: finding.id, action: 'acknowledge' };
    for (const route of API_ROUTES) {
      const answer = await call(daemon.url, examplePath(route, samples), {
        method: route.method,
        from: '127.0.0.70',
        ...(route.method === 'POST' || route.method === 'PUT' ? { body: '{}', headers: { 'content-length': '2' } } : {}),
      });
      assert.equal(answer.status, 401, `${route.method} ${route.path}`);
    }
    for (const route of DASHBOARD_ROUTES) {
      const answer = await call(daemon.url, examplePath(route, samples), {
        method: route.method,
        from: '127.0.0.70',
        ...(route.method === 'GET' ? {} : formOf({ csrf: 'x' })),
      });
      if (route.method === 'GET') assert.deepEqual([answer.status, answer.headers.location], [303, '/login'], `${route.method} ${route.path}`);
      else assert.equal(answer.status, 401, `${route.method} ${route.path}`);
    }
  });

  it('takes from a session what its key lost, and ends it when the key is revoked', async () => {
    const { key, info } = await daemon.keys.create({ owner: 'ops', name: 'dashboard', scopes: ['serve:read', 'serve:admin'] });
    const session = await login(daemon.url, key);
    const cookie = `${SESSION_COOKIE}=${session}`;
    const page = await call(daemon.url, findingPath, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.body, /class="ackform"/, 'an admin session gets the acknowledgement form');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;

    await otherKeys.update(info.id, { scopes: ['serve:read'] });
    assert.ok(
      await waitUntil(async () => !(await call(daemon.url, findingPath, { headers: { cookie } })).body.includes('ackform'), 2000, 20),
      'the form goes once serve:admin is gone',
    );
    const { body, ...headers } = formOf({ csrf, kind: 'suppress', reason: 'after the scope was taken away', expiresIn: 'never' });
    const suppress = await call(daemon.url, `${findingPath}/acknowledge`, { method: 'POST', body, headers: { ...headers, cookie } });
    assert.equal(suppress.status, 403);
    assert.equal((await daemon.history.finding('lab', finding.id))!.finding.acknowledgement, null);
    assert.equal((await call(daemon.url, '/', { headers: { cookie } })).status, 200, 'reading is still allowed');

    await otherKeys.revoke(info.id, 'session test');
    let ended: Answer | undefined;
    assert.ok(await waitUntil(async () => (ended = await call(daemon.url, '/', { headers: { cookie } })).status !== 200, 2000, 20), 'the session ends');
    assert.equal(ended!.status, 401);
    assert.equal(cookieValue(ended!, SESSION_COOKIE), '', 'the cookie is cleared');
    assert.match(
      ended!.headers['set-cookie']!.find((c) => c.startsWith(`${SESSION_COOKIE}=`))!,
      /Max-Age=0/,
    );
    assert.match(ended!.body, /session ended/);
    const [row] = await store.query<{ n: number }>('SELECT COUNT(*) AS n FROM serve_sessions WHERE key_id = ?', [info.id]);
    assert.equal(Number(row!.n), 0, "the key's sessions are gone from the store");
    const post = await call(daemon.url, '/logout', {
      method: 'POST',
      body: `csrf=${csrf}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    });
    assert.equal(post.status, 401);
  });

  it('ends a session when its key expires or loses serve:read', async () => {
    const soon = await daemon.keys.create({ owner: 'ops', name: 'short', scopes: ['serve:read'], expiresAt: Date.now() + 800 });
    const short = `${SESSION_COOKIE}=${await login(daemon.url, soon.key)}`;
    assert.equal((await call(daemon.url, '/', { headers: { cookie: short } })).status, 200);
    await new Promise((r) => setTimeout(r, 850));
    assert.equal((await call(daemon.url, '/', { headers: { cookie: short } })).status, 401);

    const narrowed = await daemon.keys.create({ owner: 'ops', name: 'narrowed', scopes: ['serve:read', 'metrics:read'] });
    const cookie = `${SESSION_COOKIE}=${await login(daemon.url, narrowed.key)}`;
    await daemon.keys.update(narrowed.info.id, { scopes: ['metrics:read'] });
    assert.equal((await call(daemon.url, '/runs', { headers: { cookie } })).status, 401);
  });

  it('refuses a session cookie from an address its key does not allow, and keeps the session for its holder', async () => {
    const { key } = await daemon.keys.create({ owner: 'ops', name: 'pinned', scopes: ['serve:read'], allowedIps: ['127.0.0.1'] });
    assert.equal((await postLogin(daemon.url, key, '127.0.0.100')).headers.location, '/login?error=key', 'no login from elsewhere');
    const cookie = `${SESSION_COOKIE}=${await login(daemon.url, key, '127.0.0.1')}`;
    assert.equal((await call(daemon.url, '/', { headers: { cookie }, from: '127.0.0.1' })).status, 200);
    const elsewhere = await call(daemon.url, '/', { headers: { cookie }, from: '127.0.0.100' });
    assert.equal(elsewhere.status, 403);
    assert.doesNotMatch(elsewhere.body, /Open exposures/);
    assert.equal((await call(daemon.url, findingPath, { headers: { cookie }, from: '127.0.0.100' })).status, 403);
    assert.equal((await call(daemon.url, '/', { headers: { cookie }, from: '127.0.0.1' })).status, 200);
  });

  it('answers a malformed escape with 400 after authentication, 401 before, and logs no path', async () => {
    const bad = '%E0%A4%A';
    const bearer = { authorization: `Bearer ${adminKey}` };
    const logged = logs.length;
    for (const path of [`/api/v1/runs/${bad}`, `/api/v1/findings/${bad}/x`, `/api/v1/findings/lab/${adminKey}${bad}`]) {
      assert.equal((await call(daemon.url, path)).status, 401, path);
      assert.equal((await call(daemon.url, path, { headers: bearer })).status, 400, path);
    }
    const put = await call(daemon.url, `/api/v1/findings/lab/${bad}/acknowledgement`, {
      method: 'PUT',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: '{"kind":"acknowledge","reason":"x"}',
    });
    assert.equal(put.status, 400);
    assert.deepEqual(JSON.parse(put.body), { error: 'bad_request', message: 'malformed percent-escape in the path' });
    assert.equal((await call(daemon.url, `/findings/lab/${bad}`)).status, 303, 'the dashboard sends a stranger to log in');
    const cookie = `${SESSION_COOKIE}=${await login(daemon.url, adminKey)}`;
    assert.equal((await call(daemon.url, `/findings/lab/${bad}`, { headers: { cookie } })).status, 400);
    assert.deepEqual(
      logs.slice(logged).filter((l) => !/^dashboard login/.test(l)),
      [],
      'nothing about these requests is logged',
    );
  });

  it('counts failed logins and API keys in /metrics and limits them per address', async () => {
    const wrong = `${adminKey.slice(0, -6)}AAAAAA`;
    for (let i = 0; i < 10; i++) assert.equal((await postLogin(daemon.url, wrong, '127.0.0.50')).headers.location, '/login?error=key');
    const limited = await postLogin(daemon.url, wrong, '127.0.0.50');
    assert.equal(limited.status, 429);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 6, `Retry-After ${limited.headers['retry-after']}`);
    assert.equal((await postLogin(daemon.url, adminKey, '127.0.0.50')).status, 429, 'even the right key waits: the limit is on the address');
    assert.equal(
      (await call(daemon.url, '/api/v1/runs', { headers: { authorization: `Bearer ${adminKey}` }, from: '127.0.0.50' })).status,
      429,
      'the API shares the limit',
    );
    await login(daemon.url, adminKey, '127.0.0.51');

    for (let i = 0; i < 10; i++)
      assert.equal((await call(daemon.url, '/api/v1/runs', { headers: { authorization: `Bearer ${wrong}` }, from: '127.0.0.60' })).status, 401);
    assert.equal((await call(daemon.url, '/api/v1/runs', { headers: { authorization: `Bearer ${wrong}` }, from: '127.0.0.60' })).status, 429);
    for (let i = 0; i < 12; i++)
      assert.equal((await call(daemon.url, '/metrics', { from: '127.0.0.61' })).status, 401, 'a request with no key guesses nothing and is not limited');
    assert.equal((await call(daemon.url, '/api/v1/runs', { headers: { authorization: `Bearer ${adminKey}` }, from: '127.0.0.61' })).status, 200);

    const metrics = await call(daemon.url, '/metrics', { headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /# TYPE warden_serve_auth_failures_total counter/);
    assert.match(metrics.body, /^warden_serve_auth_failures_total\{way="login",reason="unknown"\} 10$/m);
    assert.match(metrics.body, /^warden_serve_auth_failures_total\{way="login",reason="throttled"\} 2$/m);
    assert.match(metrics.body, /^warden_serve_auth_failures_total\{way="bearer",reason="unknown"\} 10$/m);
    assert.match(metrics.body, /^warden_serve_auth_failures_total\{way="bearer",reason="throttled"\} 2$/m);
    assert.match(metrics.body, /^warden_serve_auth_failures_total\{way="bearer",reason="missing"\} \d+$/m);
  });

  it('charges an IPv6 client by its /64 and an IPv4-mapped one as IPv4', () => {
    assert.equal(sourceOf('2001:db8:1:2:aaaa::1'), sourceOf('2001:0db8:0001:0002:ffff:1:2:3'));
    assert.equal(sourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.notEqual(sourceOf('2001:db8:1:3::1'), sourceOf('2001:db8:1:2::1'));
    assert.equal(sourceOf('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(sourceOf('::1'), '0:0:0:0::/64');
  });
});

describe('warden serve HTTP failure log', () => {
  it('redacts a key in the path of a request that failed inside the daemon', async () => {
    const where = await STORE_KINDS[0]!.make();
    const store = openStore(where.location);
    const logs: string[] = [];
    let adminKey = '';
    const config = parseConfig('version: 1\ninventories:\n  - {name: lab, targets: ["127.0.0.1:6390"], every: 1h}\n', '/tmp/warden.yaml', {});
    const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
    const daemon = await startTestServe({
      config,
      store,
      secrets,
      schedule: false,
      announceKey: (k) => (adminKey = k),
      log: (l) => logs.push(l),
    });
    try {
      const bearer = { authorization: `Bearer ${adminKey}` };
      assert.equal((await call(daemon.url, '/api/v1/runs', { headers: bearer })).status, 200, 'the key is now cached');
      // With its store gone, the daemon fails inside the handler, after the cached key let the request in.
      await store.close();
      const failed = await call(daemon.url, `/api/v1/runs/${adminKey}?token=${adminKey}`, { headers: bearer });
      assert.equal(failed.status, 500);
      assert.ok(!failed.body.includes(adminKey));
      const line = logs.find((l) => /^request GET \/api\/v1\/runs\/.* failed/.test(l));
      assert.ok(line, logs.join('\n'));
      assert.ok(!line.includes(adminKey) && !line.includes(adminKey.slice(9, 30)), line);
    } finally {
      await daemon.close();
      await where.cleanup();
    }
  });
});
