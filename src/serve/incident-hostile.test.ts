// The incident policy against a rogue host in the scanned range: a ClickHouse look-alike that relays the
// scan to a real open ClickHouse (so it is found open and full of credentials) and then misbehaves when
// triaged. A second, real open ClickHouse sits in the same inventory. All over real loopback sockets.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../config/index.js';
import { IncidentStore, type TriageResult } from '../incident/index.js';
import { seedLogs } from '../incident/test-fixtures.js';
import { KeyStore, parseKeySecrets } from '../keys/index.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { isTriageRequest, startClickHouseLookAlike, type TriageAnswer } from '../../test/helpers/clickhouse-look-alike.js';
import { startRecordingServer, type RecordingServer } from '../../test/helpers/recording-http.js';
import { openStore, type Store } from '../store/index.js';
import { type ServeDaemon } from './index.js';
import { startTestServe } from '../../test/helpers/serve.js';

const CLICKHOUSE_HTTP_PORT = 31523;
const CLICKHOUSE_TCP_PORT = 31904;
/** Below the real one's port, so the scan lists (and the daemon triages) the look-alike first. */
const LOOK_ALIKE_PORT = 24323;
const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));

interface Scene {
  store: Store;
  keys: KeyStore;
  keyIds: string[];
  lookAlike: RecordingServer;
  daemon: ServeDaemon;
  logs: string[];
}

describe('warden serve incident policy against a rogue look-alike in the scanned range', { timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-serve-hostile-'));
  let ch: TestClickHouse;
  let scenes = 0;
  const cleanups: Array<() => Promise<void>> = [];
  const closed = new Set<ServeDaemon>();

  before(async () => {
    ch = await startTestClickHouse({ httpPort: CLICKHOUSE_HTTP_PORT, tcpPort: CLICKHOUSE_TCP_PORT });
  });
  /** Closes the scenes so far (one look-alike port, one daemon at a time). */
  async function closeScenes(): Promise<void> {
    for (let c = cleanups.pop(); c; c = cleanups.pop()) await c().catch(() => undefined);
  }
  after(async () => {
    await closeScenes();
    await ch?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh store and key store, a table holding this scene's keys, the look-alike, and a daemon whose first run starts at once. */
  async function scene(triage: (req: Parameters<typeof isTriageRequest>[0]) => TriageAnswer, incidents = ''): Promise<Scene> {
    await closeScenes();
    const n = ++scenes;
    const store = openStore(join(dir, `warden-${n}.db`));
    const keys = await KeyStore.open({ store, secrets, notifications: false });
    const tokens: string[] = [];
    const keyIds: string[] = [];
    for (const owner of ['alice', 'bob']) {
      const made = await keys.create({ owner, name: `scene ${n}`, scopes: ['chat:write'] });
      tokens.push(made.key);
      keyIds.push(made.info.id);
    }
    await ch.query(`CREATE TABLE default.log_stream_${n} (timestamp DateTime, user_id String, messages String) ENGINE = MergeTree ORDER BY timestamp`);
    const rows = seedLogs(30, 3, tokens).rows.map((r) =>
      JSON.stringify({ timestamp: Math.floor(Date.parse(String(r.timestamp)) / 1000), user_id: r.user_id, messages: JSON.stringify(r.messages) }),
    );
    await ch.query(`INSERT INTO default.log_stream_${n} FORMAT JSONEachRow\n${rows.join('\n')}`);
    const lookAlike = await startClickHouseLookAlike(CLICKHOUSE_HTTP_PORT, triage, LOOK_ALIKE_PORT);
    const config = parseConfig(
      `version: 1
inventories:
  - {name: datastores, targets: ["127.0.0.1:${LOOK_ALIKE_PORT}", "127.0.0.1:${CLICKHOUSE_HTTP_PORT}"], every: 1h, sample: 100, timeout: 2s}
incidents:
  open: true
  revokeWardenKeys: true
${incidents}`,
      join(dir, 'warden.yaml'),
      {},
    );
    const logs: string[] = [];
    const daemon = await startTestServe({
      config,
      store,
      secrets,
      fingerprintKey: 'serve-hostile-test',
      log: (l) => logs.push(l),
    });
    cleanups.push(async () => {
      if (!closed.has(daemon)) await daemon.close();
      await lookAlike.close();
      await keys.close();
      await store.close();
    });
    return { store, keys, keyIds, lookAlike, daemon, logs };
  }

  async function finishedRun(s: Scene, withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    while (!(await s.daemon.history.listRuns({ inventory: 'datastores' })).some((r) => r.status !== 'running')) {
      assert.ok(Date.now() < deadline, `no finished run within ${withinMs} ms:\n${s.logs.join('\n')}`);
      await sleep(100);
    }
  }

  /** Fails when `work` has not finished within `ms`. */
  async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)));
    try {
      return await Promise.race([work, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The triage results of the incident opened for the finding at `port`. */
  async function triagesFor(s: Scene, port: number): Promise<TriageResult[]> {
    const incidents = await IncidentStore.open(s.store);
    const incident = await incidents.findOpen(`scan:clickhouse:127.0.0.1:${port}`);
    assert.ok(incident, `an incident for port ${port}:\n${s.logs.join('\n')}`);
    return incidents.triageResults(incident.id);
  }

  /** The errors of each triage of the look-alike that read nothing: on the timeline, not among the results. */
  async function failedTriages(s: Scene, port: number): Promise<Array<Array<{ part: string; message: string }>>> {
    const incidents = await IncidentStore.open(s.store);
    const incident = await incidents.findOpen(`scan:clickhouse:127.0.0.1:${port}`);
    assert.ok(incident, `an incident for port ${port}:\n${s.logs.join('\n')}`);
    assert.deepEqual(await incidents.triageResults(incident.id), [], 'a triage that read nothing is no result');
    return (await incidents.timeline(incident.id))
      .filter((e) => e.type === 'triage-failed')
      .map((e) => e.details.errors as Array<{ part: string; message: string }>);
  }

  it('sends a discovered host no credential from the environment, though WARDEN_DB_PASSWORD and CLICKHOUSE_PASSWORD are set', async () => {
    const saved = { WARDEN_DB_PASSWORD: process.env.WARDEN_DB_PASSWORD, CLICKHOUSE_PASSWORD: process.env.CLICKHOUSE_PASSWORD };
    process.env.WARDEN_DB_PASSWORD = 'password-of-wardens-own-store';
    process.env.CLICKHOUSE_PASSWORD = 'clickhouse-password-for-somewhere-else';
    try {
      const s = await scene(() => 'relay');
      await finishedRun(s, 120_000);
      await s.daemon.settled();
      const triaged = s.lookAlike.requests.filter(isTriageRequest);
      assert.ok(triaged.length > 0, 'the look-alike was triaged');
      for (const req of triaged) {
        assert.equal(req.headers['x-clickhouse-key'], undefined, 'no key sent');
        assert.equal(req.headers['x-clickhouse-user'], 'default', 'the anonymous user the scan proved works');
      }
      const said = JSON.stringify(s.lookAlike.requests);
      assert.ok(!said.includes('password-of-wardens-own-store') && !said.includes('clickhouse-password-for-somewhere-else'));
      assert.ok((await triagesFor(s, CLICKHOUSE_HTTP_PORT))[0]!.rows > 0, 'the real open ClickHouse was triaged anonymously');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('a look-alike that stalls is cut at the triage deadline, and the real open ClickHouse after it is still triaged', async () => {
    const s = await scene(() => 'stall', '  triageTimeout: 2s\n');
    await finishedRun(s, 120_000);
    const started = Date.now();
    await within(s.daemon.settled(), 20_000, 'the incident response');
    const [stalled] = await failedTriages(s, LOOK_ALIKE_PORT);
    assert.ok(s.lookAlike.requests.some(isTriageRequest), 'the look-alike was asked');
    assert.ok(
      stalled!.some((e) => /stopped before the end: the triage deadline of 2000 ms passed/.test(e.message)),
      JSON.stringify(stalled),
    );
    const [real] = await triagesFor(s, CLICKHOUSE_HTTP_PORT);
    assert.ok(real!.rows > 0 && real!.errors.length === 0, JSON.stringify(real!.errors));
    for (const id of s.keyIds) assert.equal((await s.keys.show(id)).status, 'revoked', `key ${id} revoked\n${s.logs.join('\n')}`);
    assert.ok(
      s.logs.some((l) => /clickhouse:127\.0\.0\.1:24323: triage failed, nothing read \(\d+ errors?, see the incident\)/.test(l)),
      s.logs.join('\n'),
    );
    assert.ok(Date.now() - started < 15_000);
  });

  it('shutdown stops a stalled triage at once, though its deadline is far off', async () => {
    const s = await scene(() => 'stall', '  triageTimeout: 10m\n  budget: 1h\n');
    await finishedRun(s, 120_000);
    const asked = Date.now() + 20_000;
    while (!s.lookAlike.requests.some(isTriageRequest)) {
      assert.ok(Date.now() < asked, `no triage request:\n${s.logs.join('\n')}`);
      await sleep(50);
    }
    const started = Date.now();
    closed.add(s.daemon);
    await within(s.daemon.close(), 5000, 'closing the daemon');
    assert.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`);
    const [stalled] = await failedTriages(s, LOOK_ALIKE_PORT);
    assert.ok(
      stalled!.some((e) => /stopped before the end: the daemon is stopping/.test(e.message)),
      JSON.stringify(stalled),
    );
  });

  it('a look-alike that redirects triage elsewhere: refused, the other origin gets nothing, the incident says so', async () => {
    const elsewhere = await startRecordingServer((_req, res) => res.end());
    // The look-alike lets the connection check through and redirects the table reads.
    const s = await scene((req) => (req.method === 'GET' ? { redirectTo: elsewhere.origin } : 'relay'));
    cleanups.push(() => elsewhere.close());
    await finishedRun(s, 120_000);
    await within(s.daemon.settled(), 20_000, 'the incident response');
    assert.equal(elsewhere.requests.length, 0, 'nothing followed the redirect');
    const [redirected] = await failedTriages(s, LOOK_ALIKE_PORT);
    assert.ok(
      redirected!.some((e) => /redirect refused: HTTP 307 to http:\/\/127\.0\.0\.1:\d+/.test(e.message)),
      JSON.stringify(redirected),
    );
    assert.ok((await triagesFor(s, CLICKHOUSE_HTTP_PORT))[0]!.rows > 0);
  });
});
