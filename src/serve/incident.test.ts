// Closing the loop end to end: a real ClickHouse child process with no password (the DeepSeek state) on
// ports of its own, a log_stream table holding chat rows and Warden keys created here, and the daemon with
// `sample` and the incident policy. From the scheduled scan to revoked keys and an open incident, no human step.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../config/index.js';
import { IncidentStore } from '../incident/index.js';
import { seedLogs } from '../incident/test-fixtures.js';
import { KeyStore, parseKeySecrets } from '../keys/index.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { openStore, type Store } from '../store/index.js';
import { type ServeDaemon } from './index.js';
import { startTestServe } from '../../test/helpers/serve.js';

const CLICKHOUSE_HTTP_PORT = 31423;
const CLICKHOUSE_TCP_PORT = 31903;
const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));

describe('warden serve incident policy: scheduled scan of an open ClickHouse to revoked keys', { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-serve-incident-'));
  let store: Store;
  let keys: KeyStore;
  let ch: TestClickHouse;
  let daemon: ServeDaemon | undefined;
  const tokens: string[] = [];
  const ids: string[] = [];
  const logs: string[] = [];

  before(async () => {
    store = openStore(join(dir, 'warden.db'));
    keys = await KeyStore.open({ store, secrets, notifications: false });
    for (const [owner, name] of [
      ['alice', 'gateway'],
      ['bob', 'batch'],
      ['carol', 'admin'],
    ]) {
      const made = await keys.create({ owner: owner!, name: name!, scopes: ['chat:write'] });
      tokens.push(made.key);
      ids.push(made.info.id);
    }
    ch = await startTestClickHouse({ httpPort: CLICKHOUSE_HTTP_PORT, tcpPort: CLICKHOUSE_TCP_PORT });
    await ch.query(
      'CREATE TABLE default.log_stream (timestamp DateTime, user_id String, tenant_id String, session_id String, model String, messages String) ENGINE = MergeTree ORDER BY timestamp',
    );
    const rows = seedLogs(60, 4, tokens).rows.map((r) =>
      JSON.stringify({ ...r, timestamp: Math.floor(Date.parse(String(r.timestamp)) / 1000), messages: JSON.stringify(r.messages) }),
    );
    await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${rows.join('\n')}`);
  });
  after(async () => {
    await daemon?.close();
    await ch?.stop();
    await keys?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens an exposed-log-store incident and revokes the Warden keys found, without a human step', async () => {
    const checksum = () => ch.query('SELECT count(), sum(cityHash64(*)) FROM default.log_stream FORMAT TSV');
    const before = await checksum();
    const config = parseConfig(
      `version: 1
inventories:
  - {name: datastores, targets: ["127.0.0.1:${CLICKHOUSE_HTTP_PORT}"], every: 1h, sample: 100, timeout: 2s}
incidents:
  open: true
  revokeWardenKeys: true
`,
      join(dir, 'warden.yaml'),
      {},
    );
    // The schedule starts the first run at once: no earlier run is in the store.
    daemon = await startTestServe({
      config,
      store,
      secrets,
      fingerprintKey: 'serve-incident-test',
      log: (l) => logs.push(l),
    });
    const deadline = Date.now() + 120_000;
    while (!(await daemon.history.listRuns({ inventory: 'datastores' })).some((r) => r.status !== 'running')) {
      assert.ok(Date.now() < deadline, `no finished run:\n${logs.join('\n')}`);
      await sleep(100);
    }
    await daemon.settled();
    const [run] = await daemon.history.listRuns({ inventory: 'datastores' });
    assert.equal(run!.trigger, 'schedule');
    assert.equal(run!.status, 'succeeded', run!.error ?? '');

    for (const id of ids) assert.equal((await keys.show(id)).status, 'revoked', `key ${id} revoked\n${logs.join('\n')}`);
    const incidents = await IncidentStore.open(store);
    const [incident, ...others] = await incidents.list();
    assert.equal(others.length, 0, 'one incident for one exposure');
    assert.equal(incident!.kind, 'exposed-log-store');
    assert.equal(incident!.status, 'open');
    const status = await incidents.status(incident!.id);
    assert.equal(status.timeline.filter((e) => e.type === 'key-revoked').length, 3);
    assert.ok(status.timeline.some((e) => e.type === 'scan-finding' && e.actor === 'warden-serve'));
    assert.ok(
      logs.some((l) => /incident inc_\w+ opened for clickhouse:127\.0\.0\.1:31423: \d+ credential occurrences, 3 Warden keys revoked/.test(l)),
      logs.join('\n'),
    );
    assert.equal(await checksum(), before, 'the exposed store is unchanged');
    const said = logs.join('\n');
    for (const t of tokens) assert.ok(!said.includes(t), 'no key value in the log');

    // The next run sees the same exposure: no new alert, so no second incident and no second triage.
    const again = (await daemon.trigger('datastores'))!;
    await daemon.settled();
    assert.equal((await daemon.history.run(again.id))!.status, 'succeeded');
    assert.equal((await incidents.list()).length, 1);
  });

  /** A chat row written now, holding `token`: what a live gateway keeps logging into the open store. */
  const liveRow = (token: string, at = Math.floor(Date.now() / 1000)) =>
    JSON.stringify({
      timestamp: at,
      user_id: 'user-live',
      tenant_id: 'tenant-0',
      session_id: 'sess-live',
      model: 'gpt-4o-mini',
      messages: JSON.stringify([{ role: 'user', content: `my key is ${token}` }]),
    });

  it('re-triages the open incident each run: Warden keys written after the first alert are revoked in the next run, a key never written is untouched', async () => {
    const incidents = await IncidentStore.open(store);
    const [incident] = await incidents.list();
    const late = [];
    for (const name of ['late-1', 'late-2', 'never-written']) late.push(await keys.create({ owner: 'dave', name, scopes: ['chat:write'] }));
    await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${[liveRow(late[0]!.key), liveRow(late[1]!.key)].join('\n')}`);
    const run = (await daemon!.trigger('datastores'))!;
    await daemon!.settled();
    assert.equal((await daemon!.history.run(run.id))!.status, 'succeeded');
    assert.equal((await keys.show(late[0]!.info.id)).status, 'revoked', logs.join('\n'));
    assert.equal((await keys.show(late[1]!.info.id)).status, 'revoked');
    assert.equal((await keys.show(late[2]!.info.id)).status, 'active', 'a key that never appeared is untouched');
    assert.equal((await incidents.list()).length, 1, 'the same incident, not a new one');

    const timeline = await incidents.timeline(incident!.id);
    const retriages = timeline.filter((e) => e.type === 'retriage');
    const last = retriages.at(-1)!;
    assert.equal((last.details.newCredentials as unknown[]).length, 2, JSON.stringify(last.details));
    assert.equal(last.details.revoked, 2);
    // Only rows written since the first triage's cursor: the two new ones, plus at most the rows sharing the cursor's second.
    assert.ok(Number(last.details.rows) >= 2 && Number(last.details.rows) < 10, JSON.stringify(last.details));
    assert.equal(timeline.filter((e) => e.type === 'key-revoked').length, 5);
    assert.equal((await incidents.triageResults(incident!.id)).length, 1, 'an increment is no triage result: the totals stay those of the full triage');
    assert.ok(
      logs.some((l) =>
        /incident inc_\w+ re-triaged for clickhouse:127\.0\.0\.1:31423: \d+ rows written since the last triage, 2 new credentials, 2 Warden keys revoked/.test(
          l,
        ),
      ),
      logs.join('\n'),
    );
    const said = logs.join('\n');
    for (const k of late) assert.ok(!said.includes(k.key), 'no key value in the log');

    // Nothing written since: the next increment reads the rows at the cursor again at most, and finds nothing new.
    const quiet = (await daemon!.trigger('datastores'))!;
    await daemon!.settled();
    assert.equal((await daemon!.history.run(quiet.id))!.status, 'succeeded');
    const after = (await incidents.timeline(incident!.id)).filter((e) => e.type === 'retriage').at(-1)!;
    assert.notEqual(after.seq, last.seq);
    assert.deepEqual(after.details.newCredentials, [], 'credentials seen before are not new again');
    assert.equal((await incidents.timeline(incident!.id)).filter((e) => e.type === 'key-revoked').length, 5);
  });

  it('on the real schedule (every 2 s here; the file allows 10 s at least), a key written into the open store is revoked within a few runs', async () => {
    await daemon?.close();
    const config = parseConfig(
      `version: 1
inventories:
  - {name: datastores, targets: ["127.0.0.1:${CLICKHOUSE_HTTP_PORT}"], every: 10s, jitter: 0s, sample: 100, timeout: 2s}
incidents:
  open: true
  revokeWardenKeys: true
`,
      join(dir, 'warden.yaml'),
      {},
    );
    // The schedule itself takes any interval; only the file's minimum is 10 s.
    config.inventories[0]!.schedule = { kind: 'interval', everyMs: 2000 };
    daemon = await startTestServe({
      config,
      store,
      secrets,
      fingerprintKey: 'serve-incident-test',
      log: (l) => logs.push(l),
    });
    const live = await keys.create({ owner: 'erin', name: 'scheduled', scopes: ['chat:write'] });
    const untouched = await keys.create({ owner: 'erin', name: 'never-written', scopes: ['chat:write'] });
    const written = Date.now();
    await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${liveRow(live.key)}`);
    while ((await keys.show(live.info.id)).status !== 'revoked') {
      assert.ok(Date.now() - written < 20_000, `not revoked within 20 s:\n${logs.slice(-10).join('\n')}`);
      await sleep(200);
    }
    assert.equal((await keys.show(untouched.info.id)).status, 'active');
  });
});
