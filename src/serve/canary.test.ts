/**
 * A canary planted in a real open ClickHouse (Debian's clickhouse-server, no password: the DeepSeek state) is
 * read by an attacker with a plain SQL query and then presented to `warden gateway`. The gateway, the serve
 * daemon and the test each open the one SQLite store on their own connection, as three processes would.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../config/index.js';
import { Gateway, parseGatewayConfig } from '../gateway/index.js';
import { IncidentStore, triage } from '../incident/index.js';
import { checkPlantings, KeyStore, parseKeySecrets, plantCanary } from '../keys/index.js';
import { openStore, type Store } from '../store/index.js';
import { type ServeDaemon } from './index.js';
import { startTestServe } from '../../test/helpers/serve.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { freePort } from '../../test/helpers/free-port.js';

interface Received {
  at: number;
  body: {
    type: string;
    inventory: string;
    alerts: Array<{ kind: string; finding: { host: string; title: string; severity: string }; canary?: Record<string, unknown> }>;
  };
}

describe('canary keys end to end: open ClickHouse, attacker, gateway, serve', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-canary-'));
  const storePath = join(dir, 'warden.db');
  // The gateway reads WARDEN_KEY_SECRET as UTF-8 text; the test's own key stores use the same secret.
  const secretsText = `1:${randomBytes(24).toString('hex')}`;
  const secrets = parseKeySecrets(secretsText, 'test', (s) => Buffer.from(s, 'utf8'));
  let ch: TestClickHouse;
  let store: Store;
  let keys: KeyStore;
  let daemon: ServeDaemon;
  let gateway: Gateway;
  let receiver: Server;
  const received: Received[] = [];
  const logs: string[] = [];
  let canaryId = '';
  const WHERE = 'analytics ClickHouse, default.request_log.api_key';

  before(async () => {
    process.env.WARDEN_KEY_SECRET = secretsText;
    const [httpPort, tcpPort] = [await freePort(), await freePort()];
    ch = await startTestClickHouse({ httpPort, tcpPort });
    await ch.query('CREATE TABLE default.request_log (ts DateTime DEFAULT now(), user String, api_key String, prompt String) ENGINE = Log');
    await ch.query("INSERT INTO default.request_log (user, api_key, prompt) VALUES ('u-1', 'none', 'summarise this contract')");

    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

    store = openStore(storePath);
    keys = await KeyStore.open({ store: openStore(storePath), secrets });
    const made = await keys.createCanary({ where: WHERE });
    canaryId = made.info.id;
    await plantCanary(keys, canaryId, made.key, {
      kind: 'table',
      dsn: `clickhouse://default@127.0.0.1:${httpPort}/default`,
      table: 'request_log',
      column: 'api_key',
      set: { user: 'u-2', prompt: 'rotate the billing key' },
    });

    daemon = await startTestServe({
      config: parseConfig(
        `version: 1\ninventories:\n  - {name: lab, targets: ["127.0.0.1:${httpPort}"], every: 1h, timeout: 1s}\nalerts:\n  - {name: hook, type: webhook, url: "${hook}", minSeverity: low, retries: 1}\n`,
        join(dir, 'warden.yaml'),
        {},
      ),
      store,
      secrets,
      schedule: false,
      log: (l) => logs.push(l),
    });
    const gatewayYaml = `
listen: { port: 0 }
keys: { store: ${storePath} }
routes:
  - name: analytics
    match: { host: 127.0.0.1 }
    upstream: { url: "http://127.0.0.1:${httpPort}", profile: clickhouse }
    allow:
      - { classes: [read], methods: [GET], scopes: ["clickhouse:read"] }
`;
    writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml);
    gateway = await Gateway.start({ config: parseGatewayConfig(gatewayYaml, 'inline', dir), accessLog: null });
  });

  after(async () => {
    await gateway?.close();
    await daemon?.close();
    await keys?.close();
    await store?.close();
    await ch?.stop();
    await new Promise((r) => receiver?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused exactly like a revoked key, and the use is an incident and an alert within one second', async () => {
    // The attacker: a plain SQL query on the open port, then the key they found, against the gateway.
    const dump = await ch.query('SELECT api_key FROM default.request_log FORMAT TabSeparated');
    const stolen = dump.split('\n').find((v) => v.startsWith('wdn_live_'));
    assert.ok(stolen, 'the planted canary is in the table, in the live key format');

    const real = await keys.create({ owner: 'svc-analytics', name: 'reporting', scopes: ['clickhouse:read'] });
    await keys.revoke(real.info.id, 'rotated out');
    const asRevoked = await fetch(`${gateway.url}/?query=SELECT%201`, { headers: { authorization: `Bearer ${real.key}` } });
    const revokedBody = await asRevoked.text();

    const usedAt = Date.now();
    const attempt = await fetch(`${gateway.url}/?query=SELECT%20*%20FROM%20default.request_log`, {
      headers: { authorization: `Bearer ${stolen}`, 'user-agent': 'exfil/1.0' },
    });
    const body = await attempt.text();
    assert.match(revokedBody, /revoked/, 'the comparison is with a key the gateway knows and found revoked');
    assert.equal(attempt.status, asRevoked.status);
    assert.equal(body, revokedBody, 'nothing in the refusal says canary');
    assert.doesNotMatch(body + JSON.stringify([...attempt.headers]), /canary/i);

    while (!received.length && Date.now() - usedAt < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(received.length, 1, `one alert delivered (logs: ${logs.join(' | ')})`);
    assert.ok(received[0]!.at - usedAt < 1000, `alert within one second of the use (took ${received[0]!.at - usedAt} ms)`);
    const alert = received[0]!.body.alerts[0]!;
    assert.equal(alert.kind, 'canary-tripped');
    assert.equal(alert.finding.severity, 'critical');
    assert.equal(alert.finding.host, '127.0.0.1');
    assert.equal(alert.canary?.plantedIn, WHERE);
    assert.equal(alert.canary?.userAgent, 'exfil/1.0');
    assert.equal(alert.canary?.via, 'gateway');
    assert.match(String(alert.canary?.route), /^GET 127\.0\.0\.1:\d+\/$/);

    await daemon.settled();
    const incidents = await IncidentStore.open(store);
    const [incident, ...others] = (await incidents.list()).filter((i) => i.kind === 'canary-tripped');
    assert.ok(incident && !others.length, 'one canary-tripped incident');
    const trip = (await incidents.timeline(incident.id)).find((e) => e.type === 'canary-tripped');
    assert.equal(trip?.details.sourceAddress, '127.0.0.1');
    assert.equal(trip?.details.plantedIn, WHERE);
    assert.equal(trip?.details.userAgent, 'exfil/1.0');

    // A second use from the same place lands on the same incident; the canary's listing shows it was seen.
    const listed = (await keys.canaries.list()).find((c) => c.id === canaryId)!;
    assert.equal(listed.lastSeenIp, '127.0.0.1');
    assert.ok(listed.uses >= 1);
    assert.equal(
      (await keys.list()).some((k) => k.id === canaryId),
      false,
      'canaries are not listed among client keys',
    );
    await incidents.close();
  });

  it('incident triage of the exposed table reports the canary as present, not as a leaked key to revoke', async () => {
    const result = await triage(`clickhouse://default@127.0.0.1:${ch.httpPort}/default`, { keys, fingerprintKey: randomBytes(32), revoke: true, env: {} });
    const found = result.credentials.warden.find((w) => w.keyId === canaryId);
    assert.equal(found?.action, 'canary-present');
    assert.equal((await keys.show(canaryId)).revokedAt, null, 'the canary stays planted and armed');
  });

  it('checks the planting is still there, and reports it gone once the row is deleted', async () => {
    const [found] = await checkPlantings(keys, { env: {} });
    assert.equal(found?.present, true);
    await ch.query("ALTER TABLE default.request_log DELETE WHERE user = 'u-2'").catch(async () => {
      // Log tables take no mutations: rebuild the table without the planted row, as a cleanup would.
      await ch.query("CREATE TABLE default.request_log_kept ENGINE = Log AS SELECT * FROM default.request_log WHERE user != 'u-2'");
      await ch.query('DROP TABLE default.request_log');
      await ch.query('RENAME TABLE default.request_log_kept TO default.request_log');
    });
    const [gone] = await checkPlantings(keys, { env: {} });
    assert.equal(gone?.present, false);
    // serve's scheduled check alerts on the change from present to gone, once.
    const before = received.length;
    await keys.canaries.markChecked(canaryId, gone!.target, true);
    await daemon.canaries.checkNow();
    await daemon.canaries.checkNow();
    await daemon.alerts.idle();
    const missing = received
      .slice(before)
      .flatMap((r) => r.body.alerts)
      .filter((a) => a.kind === 'canary-missing');
    assert.equal(missing.length, 1);
    assert.match(missing[0]!.finding.title, /is no longer in .*request_log\.api_key/);
  });
});
