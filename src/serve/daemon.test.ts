// `warden serve` end to end on real sockets: real redis-server processes started here on loopback,
// a real SQLite store, a webhook receiver on loopback, and the scanner pointed at the daemon itself.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../config/index.js';
import { parseKeySecrets } from '../keys/index.js';
import { scan } from '../scan/index.js';
import { openStore, type Store } from '../store/index.js';
import { startServe, verifyWebhookSignature, type ServeDaemon } from './index.js';
import { freePorts } from '../../test/helpers/free-port.js';
import { STORE_KINDS, type StoreLocation } from '../../test/helpers/store-kinds.js';
import { startTestRedis } from '../../test/helpers/redis.js';

const [REDIS_PORT, SECOND_REDIS_PORT] = (await freePorts(2)) as [number, number];
const WEBHOOK_SECRET = randomBytes(16).toString('hex');

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function startReceiver(failFirst: number): Promise<{ server: Server; url: string; received: Received[]; attempts: () => number }> {
  const received: Received[] = [];
  let attempts = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      // The first deliveries fail, so the test sees retries with backoff.
      if (attempts <= failFirst) return void res.writeHead(503).end();
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, attempts: () => attempts };
}

describe('warden serve daemon', () => {
  let where: StoreLocation;
  let store: Store;
  let daemon: ServeDaemon;
  let redis: ChildProcess;
  let adminKey = '';
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
  const logs: string[] = [];

  const config = () =>
    parseConfig(
      `version: 1
inventories:
  - {name: lab, targets: ["127.0.0.1:${REDIS_PORT}"], every: 1h, timeout: 1s}
  - {name: second, targets: ["127.0.0.1:${SECOND_REDIS_PORT}"], every: 1h, timeout: 1s}
alerts:
  - {name: hook, type: webhook, url: "${receiver.url}", secretEnv: HOOK_SECRET, minSeverity: low, retries: 3}
`,
      '/tmp/warden.yaml',
      { HOOK_SECRET: WEBHOOK_SECRET },
    );

  const api = (path: string, init: RequestInit & { key?: string } = {}) =>
    fetch(`${daemon.url}${path}`, {
      ...init,
      headers: {
        ...(init.key ? { authorization: `Bearer ${init.key}` } : {}),
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });

  before(async () => {
    where = await STORE_KINDS[0]!.make();
    store = openStore(where.location);
    receiver = await startReceiver(2);
    redis = await startTestRedis(REDIS_PORT);
    // A run left "running" by a process that crashed: the daemon must mark it interrupted on start.
    const { ServeHistory } = await import('./index.js');
    const h = await ServeHistory.open(store);
    await h.claimRun('lab', 'schedule', `${hostname()}:2147483646`);
    daemon = await startServe({
      config: config(),
      store,
      secrets,
      schedule: false,
      announceKey: (k) => (adminKey = k),
      log: (l) => logs.push(l),
      alertBackoffMs: 20,
      listen: { host: '127.0.0.1', port: 0 },
    });
  });
  after(async () => {
    await daemon?.close();
    if (redis) await stopProcess(redis);
    receiver?.server.close();
    await store?.close();
    await where?.cleanup();
  });

  it('creates an admin key on first start and marks a crashed run interrupted', async () => {
    assert.match(adminKey, /^wdn_/);
    assert.ok(!logs.some((l) => l.includes(adminKey)), 'the key is announced, never logged');
    const runs = await daemon.history.listRuns({ inventory: 'lab' });
    assert.equal(runs[0]!.status, 'interrupted');
    assert.ok(logs.some((l) => /marked 1 run interrupted/.test(l)));
  });

  it('refuses every API, metrics and dashboard request without a key', async () => {
    for (const path of ['/api/v1/findings', '/api/v1/runs', '/metrics', '/openapi.json']) {
      const res = await api(path);
      assert.equal(res.status, 401, path);
      assert.match(res.headers.get('www-authenticate') ?? '', /Bearer/);
    }
    assert.equal((await api('/api/v1/runs', { method: 'POST', body: '{"inventory":"lab"}' })).status, 401);
    const page = await fetch(`${daemon.url}/`, { redirect: 'manual' });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get('location'), '/login');
    // fetch will not set Host, so a plain request stands in for a page served under a rebound DNS name.
    const status = await new Promise<number>((resolve, reject) => {
      request(`${daemon.url}/api/v1/findings`, { headers: { host: 'attacker.example:80' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    assert.equal(status, 421, 'a DNS-rebound name is refused');
  });

  it('scans a real open Redis, records it as new, alerts a signed webhook after retries, and serves it', async () => {
    const started = await api('/api/v1/runs', { method: 'POST', key: adminKey, body: JSON.stringify({ inventory: 'lab' }) });
    assert.equal(started.status, 202);
    assert.equal(
      (await api('/api/v1/runs', { method: 'POST', key: adminKey, body: JSON.stringify({ inventory: 'lab' }) })).status,
      409,
      'never two runs of one inventory',
    );
    await daemon.settled();
    const { findings } = (await (await api('/api/v1/findings?state=open', { key: adminKey })).json()) as {
      findings: Array<{ id: string; auth: string; severity: string }>;
    };
    const f = findings.find((x) => x.id === `redis:127.0.0.1:${REDIS_PORT}`);
    assert.ok(f, 'the open Redis is a finding');
    assert.equal(f.auth, 'none');
    const detail = (await (await api(`/api/v1/findings/lab/${encodeURIComponent(f.id)}`, { key: adminKey })).json()) as { events: Array<{ kind: string }> };
    assert.deepEqual(
      detail.events.map((e) => e.kind),
      ['opened'],
    );

    await daemon.alerts.idle();
    assert.equal(receiver.attempts(), 3, 'two 503s, then delivered');
    const delivery = receiver.received[0]!;
    assert.ok(
      verifyWebhookSignature(WEBHOOK_SECRET, String(delivery.headers['x-warden-timestamp']), delivery.body, String(delivery.headers['x-warden-signature'])),
    );
    assert.ok(
      !verifyWebhookSignature(
        WEBHOOK_SECRET,
        String(delivery.headers['x-warden-timestamp']),
        delivery.body.replace('lab', 'lbb'),
        String(delivery.headers['x-warden-signature']),
      ),
    );
    const payload = JSON.parse(delivery.body) as { alerts: Array<{ kind: string; finding: { id: string } }> };
    assert.deepEqual(
      payload.alerts.map((a) => [a.kind, a.finding.id]),
      [['new', f.id]],
    );

    const metrics = await (await api('/metrics', { key: adminKey })).text();
    assert.match(metrics, new RegExp(`warden_serve_open_findings\\{inventory="lab",severity="${f.severity}",service="redis"\\} 1`));
    assert.match(metrics, /warden_serve_runs_total\{inventory="lab",status="succeeded"\} 1/);
    assert.match(metrics, /warden_serve_last_success_timestamp_seconds\{inventory="lab"\} \d{10}/);
    const openapi = (await (await api('/openapi.json', { key: adminKey })).json()) as { paths: Record<string, unknown> };
    assert.ok(openapi.paths['/api/v1/findings/{inventory}/{findingId}/acknowledgement']);
  });

  it('enforces scopes: a read key reads but cannot trigger runs or acknowledge, and cannot read metrics', async () => {
    const { key } = await daemon.keys.create({ owner: 'team', name: 'reader', scopes: ['serve:read'] });
    assert.equal((await api('/api/v1/runs', { key })).status, 200);
    assert.equal((await api('/api/v1/runs', { method: 'POST', key, body: '{"inventory":"lab"}' })).status, 403);
    assert.equal(
      (
        await api(`/api/v1/findings/lab/${encodeURIComponent(`redis:127.0.0.1:${REDIS_PORT}`)}/acknowledgement`, {
          method: 'PUT',
          key,
          body: '{"kind":"acknowledge","reason":"x"}',
        })
      ).status,
      403,
    );
    assert.equal((await api('/metrics', { key })).status, 403);
  });

  it('acknowledges through the API with a reason and expiry', async () => {
    const path = `/api/v1/findings/lab/${encodeURIComponent(`redis:127.0.0.1:${REDIS_PORT}`)}/acknowledgement`;
    assert.equal((await api(path, { method: 'PUT', key: adminKey, body: '{"kind":"acknowledge","reason":""}' })).status, 400);
    const res = await api(path, {
      method: 'PUT',
      key: adminKey,
      body: JSON.stringify({ kind: 'acknowledge', reason: 'lab box, firewalled', expiresIn: '7d' }),
    });
    assert.equal(res.status, 200);
    const f = (await res.json()) as { acknowledgement: { reason: string; expiresAt: number } };
    assert.equal(f.acknowledgement.reason, 'lab box, firewalled');
    assert.ok(f.acknowledgement.expiresAt > Date.now() + 6 * 86_400_000);
    assert.equal((await api(path, { method: 'DELETE', key: adminKey })).status, 204);
  });

  it('leaves a finding that disappears before its re-check unconfirmed and silent', async () => {
    const second = await startTestRedis(SECOND_REDIS_PORT);
    // Stop the second Redis as soon as the first scan has seen it, so the re-check finds it gone.
    const daemon2Alerts = receiver.received.length;
    await daemon.close();
    daemon = await startServe({
      config: config(),
      store,
      secrets,
      schedule: false,
      log: (l) => logs.push(l),
      alertBackoffMs: 20,
      listen: { host: '127.0.0.1', port: 0 },
      scanRunner: async (_inventory, _run, options) => {
        const report = await scan(options);
        await stopProcess(second);
        return { findings: report.findings, stats: { endpoints: report.stats.endpoints, open: report.stats.open } };
      },
    });
    assert.ok(await daemon.trigger('second'));
    await daemon.settled();
    await daemon.alerts.idle();
    const [run] = await daemon.history.listRuns({ inventory: 'second', limit: 1 });
    assert.equal(run!.status, 'succeeded');
    assert.equal(run!.unconfirmedCount, 1);
    assert.equal(run!.newCount, 0);
    assert.equal(receiver.received.length, daemon2Alerts, 'no alert for an unconfirmed finding');
  });

  it('survives a failing scan and records the failure', async () => {
    await daemon.close();
    let calls = 0;
    daemon = await startServe({
      config: config(),
      store,
      secrets,
      schedule: false,
      log: (l) => logs.push(l),
      listen: { host: '127.0.0.1', port: 0 },
      scanRunner: async (_inventory, _run, options) => {
        if (++calls === 1) throw new Error('target resolver unavailable');
        const report = await scan(options);
        return { findings: report.findings, stats: { endpoints: report.stats.endpoints, open: report.stats.open } };
      },
    });
    await daemon.trigger('lab');
    await daemon.settled();
    const [failed] = await daemon.history.listRuns({ inventory: 'lab', limit: 1 });
    assert.equal(failed!.status, 'failed');
    assert.equal(failed!.error, 'target resolver unavailable');
    await daemon.trigger('lab');
    await daemon.settled();
    const [ok] = await daemon.history.listRuns({ inventory: 'lab', limit: 1 });
    assert.equal(ok!.status, 'succeeded', `second run: ${ok!.error ?? ''}`);
  });

  it('resolves the finding when Redis goes away', async () => {
    await stopProcess(redis);
    await daemon.trigger('lab');
    await daemon.settled();
    const found = (await daemon.history.finding('lab', `redis:127.0.0.1:${REDIS_PORT}`))!;
    assert.equal(found.finding.state, 'resolved');
    assert.equal(found.events[0]!.kind, 'resolved');
  });

  it('shows no unauthenticated surface to the scanner', async () => {
    const port = Number(new URL(daemon.url).port);
    const report = await scan({ targets: [`127.0.0.1:${port}`], timeoutMs: 2000 });
    assert.equal(report.stats.open, 1, 'the scanner reached the daemon');
    const exposed = report.findings.filter((f) => f.auth === 'none' || f.auth === 'default-credentials');
    assert.deepEqual(exposed, []);
  });
});

describe('warden serve first-start admin key', () => {
  it('revokes the key it could not write to a file, and logs how to make one, never the key', async () => {
    const where = await STORE_KINDS[0]!.make();
    const store = openStore(where.location);
    const config = parseConfig('version: 1\ninventories:\n  - {name: lab, targets: ["127.0.0.1:9"], every: 1h}\n', '/tmp/warden.yaml', {});
    const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
    const blocker = join(dirname(where.location), 'not-a-folder');
    writeFileSync(blocker, '');
    const logs: string[] = [];
    const daemon = await startServe({
      config,
      store,
      secrets,
      schedule: false,
      adminKeyFile: join(blocker, 'admin-key'),
      log: (l) => logs.push(l),
      listen: { host: '127.0.0.1', port: 0 },
    });
    try {
      const [made, ...more] = await daemon.keys.list({ owner: 'warden-serve' });
      assert.equal(more.length, 0);
      assert.equal(made!.status, 'revoked');
      assert.ok(
        logs.some((l) => l.startsWith(`cannot write the secret file ${join(blocker, 'admin-key')}: `) && l.includes('warden keys create --store')),
        logs.join('\n'),
      );
      assert.ok(!logs.some((l) => /wdn_(live|test)_[A-Za-z0-9]{8}/.test(l)), 'no key in the log');
    } finally {
      await daemon.close();
      await store.close();
      await where.cleanup();
    }
  });
});
