/**
 * Triage against a seeded dump in every format and against real stores: a ClickHouse child process (the
 * DeepSeek shape, from scan to revoked keys), PostgreSQL, MariaDB and SQLite, and a redis-server child process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { openDatabase } from '../db/index.js';
import { createScratchDatabase, scratchMariaDb, scratchSqlite } from '../../test/helpers/scratch-databases.js';
import { KeyStore, parseKeySecrets } from '../keys/index.js';
import { scan } from '../scan/index.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { startTestRedis } from '../../test/helpers/redis.js';
import { buildRegimes, IncidentStore, renderHtml, renderMarkdown, respondToExposure, triage, type TriageResult } from './index.js';
import { seedLogs, THIRD_PARTY_RULES, type SeededLogs } from './test-fixtures.js';
import { CHROMIUM_LAUNCH } from '../../test/helpers/chromium.js';

const ROWS = 200;
const USERS = 9;
const FP_KEY = 'incident-test-fingerprint-key';
const secrets = () => parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));

interface Fixture {
  dir: string;
  keys: KeyStore;
  incidents: IncidentStore;
  /** Three active keys and one revoked before the incident. */
  tokens: string[];
  ids: string[];
  seeded: SeededLogs;
}

async function makeFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-incident-'));
  const location = join(dir, 'warden.db');
  const keys = await KeyStore.open({ store: location, secrets: secrets(), notifications: false });
  const incidents = await IncidentStore.open(keys.store);
  const made = [
    await keys.create({ owner: 'alice', name: 'gateway', scopes: ['chat:write'] }),
    await keys.create({ owner: 'alice', name: 'batch', scopes: ['chat:write', 'files:read'] }),
    await keys.create({ owner: 'bob', name: 'admin', scopes: ['*'] }),
    await keys.create({ owner: 'carol', name: 'old', scopes: ['chat:read'] }),
  ];
  await keys.revoke(made[3]!.info.id, 'rotated last year');
  const tokens = made.map((m) => m.key);
  return { dir, keys, incidents, tokens, ids: made.map((m) => m.info.id), seeded: seedLogs(ROWS, USERS, tokens) };
}

const asMap = (counts: Array<{ id: string; rows: number }>) => new Map(counts.map((c) => [c.id, c.rows]));

function assertFindsEverything(result: TriageResult, f: Fixture, opts: { time?: boolean } = {}) {
  assert.equal(result.rows, ROWS);
  assert.equal(result.credentials.warden.length, 4, 'every Warden key');
  const byId = new Map(result.credentials.warden.map((w) => [w.keyId, w]));
  assert.deepEqual(byId.get(f.ids[0]!)?.scopes, ['chat:write']);
  assert.equal(byId.get(f.ids[2]!)?.owner, 'bob');
  for (const rule of THIRD_PARTY_RULES) {
    const found = result.credentials.thirdParty.flatMap((p) => p.rules).find((r) => r.ruleId === rule);
    assert.equal(found?.fingerprints.length, 3, `three distinct ${rule} keys`);
    assert.ok(found?.rotateUrl?.startsWith('https://'), `${rule} has a rotation page`);
  }
  const subjects = new Map(result.subjects.map((s) => [s.kind, s]));
  assert.deepEqual(asMap(subjects.get('user')!.counts), f.seeded.expected.users);
  assert.deepEqual(asMap(subjects.get('tenant')!.counts), f.seeded.expected.tenants);
  assert.deepEqual(asMap(subjects.get('session')!.counts), f.seeded.expected.sessions);
  assert.equal(subjects.get('user')!.distinct, USERS);
  if (opts.time !== false) assert.deepEqual([result.timeRange?.from, result.timeRange?.to], [f.seeded.expected.from, f.seeded.expected.to]);
  assert.ok(
    result.categories.some((c) => c.category === 'chat-transcript'),
    JSON.stringify(result.categories),
  );
  assert.deepEqual(result.atlas.map((a) => a.id).slice(0, 2), ['AML.T0055', 'AML.T0057']);
  const text = JSON.stringify(result);
  for (const t of f.tokens) assert.ok(!text.includes(t), 'no Warden key value in the result');
  assert.doesNotMatch(text, /sk-ant-api03-|sk-proj-|ghp_/, 'no third-party key value in the result');
}

function csvOf(rows: Array<Record<string, unknown>>): string {
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => {
    const s = typeof v === 'string' ? v : JSON.stringify(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

describe('incident triage of a dump', () => {
  let f: Fixture;
  before(async () => {
    f = await makeFixture();
    const ndjson = f.seeded.rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    writeFileSync(join(f.dir, 'logs.ndjson'), ndjson);
    writeFileSync(join(f.dir, 'logs.ndjson.gz'), gzipSync(ndjson));
    writeFileSync(join(f.dir, 'logs.csv'), csvOf(f.seeded.rows));
    writeFileSync(join(f.dir, 'logs.json'), JSON.stringify(f.seeded.rows, null, 2));
    writeFileSync(join(f.dir, 'export.bin'), gzipSync(JSON.stringify(f.seeded.rows)));
    mkdirSync(join(f.dir, 'folder', 'day2'), { recursive: true });
    writeFileSync(
      join(f.dir, 'folder', 'a.jsonl'),
      f.seeded.rows
        .slice(0, 120)
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    writeFileSync(
      join(f.dir, 'folder', 'day2', 'b.ndjson.gz'),
      gzipSync(
        f.seeded.rows
          .slice(120)
          .map((r) => JSON.stringify(r))
          .join('\n'),
      ),
    );
  });
  after(async () => {
    await f.keys.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  it('finds every key and every subject in NDJSON, and without --revoke only lists what would be revoked', async () => {
    const result = await triage(join(f.dir, 'logs.ndjson'), { fingerprintKey: FP_KEY, keys: f.keys });
    assertFindsEverything(result, f);
    const actions = new Map(result.credentials.warden.map((w) => [w.keyId, w.action]));
    assert.deepEqual(
      [...f.ids].map((id) => actions.get(id)),
      ['would-revoke', 'would-revoke', 'would-revoke', 'already-revoked'],
    );
    for (const id of f.ids.slice(0, 3)) {
      const info = await f.keys.show(id);
      assert.equal(info.status, 'active');
      assert.equal(info.lastUsedAt, null, 'the lookup does not count as a use');
    }
  });

  for (const [name, file] of [
    ['gzip NDJSON', 'logs.ndjson.gz'],
    ['CSV with quoted JSON cells', 'logs.csv'],
    ['a pretty-printed JSON array', 'logs.json'],
    ['gzip JSON with an unhelpful name (sniffed)', 'export.bin'],
    ['a folder of files, some gzip', 'folder'],
  ] as const) {
    it(`reads ${name} with the same answer`, async () => {
      assertFindsEverything(await triage(join(f.dir, file), { fingerprintKey: FP_KEY, keys: f.keys }), f);
    });
  }

  it('with --revoke revokes the Warden keys (only those), records each on the timeline, and the report renders in Chromium', async () => {
    const incident = await f.incidents.open({
      kind: 'leaked-api-key',
      regimes: buildRegimes(['gdpr', 'sec']),
      detectedAt: Date.parse('2025-01-29T09:00:00Z'),
      awareAt: Date.parse('2025-01-29T10:00:00Z'),
    });
    const result = await triage(join(f.dir, 'logs.ndjson'), {
      fingerprintKey: FP_KEY,
      keys: f.keys,
      revoke: true,
      incident: { store: f.incidents, id: incident.id },
    });
    const actions = new Map(result.credentials.warden.map((w) => [w.keyId, w.action]));
    assert.deepEqual(
      [...f.ids].map((id) => actions.get(id)),
      ['revoked', 'revoked', 'revoked', 'already-revoked'],
    );
    for (const id of f.ids) assert.equal((await f.keys.show(id)).status, 'revoked');
    assert.match((await f.keys.show(f.ids[3]!)).revokeReason ?? '', /rotated last year/, 'an already revoked key keeps its reason');
    const status = await f.incidents.status(incident.id);
    const revokedEntries = status.timeline.filter((e) => e.type === 'key-revoked');
    assert.deepEqual(revokedEntries.map((e) => e.details.keyId).sort(), f.ids.slice(0, 3).sort());
    assert.ok(revokedEntries.every((e) => e.recordedAt >= e.happenedAt));
    assert.ok(status.timeline.some((e) => e.type === 'triage'));

    const input = { ...status, triages: await f.incidents.triageResults(incident.id) };
    const html = renderHtml(input);
    const md = renderMarkdown(input);
    for (const t of f.tokens) assert.ok(!html.includes(t) && !md.includes(t), 'no key in the report');
    assert.ok(!html.includes('user-3'), 'no subject id in the report');
    assert.match(md, /## Deadlines/);
    const browser = await chromium.launch(CHROMIUM_LAUNCH);
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const file = join(f.dir, 'report.html');
      writeFileSync(file, html);
      await page.goto(`file://${file}`);
      assert.equal(await page.locator('h1').innerText(), `Incident report: ${incident.title}`);
      const headings = await page.locator('h2').allInnerTexts();
      for (const h of ['Summary', 'Deadlines', 'Timeline', 'Remaining playbook steps']) assert.ok(headings.includes(h), `section ${h}`);
      assert.ok(headings.some((h) => h.startsWith('Third-party credentials')));
      assert.equal(await page.locator('td.state-revoked').count(), 3);
      assert.ok((await page.locator('body').innerText()).includes('GDPR Art. 33'));
      assert.deepEqual(requests, [`file://${file}`], 'self-contained: nothing else fetched');
      const pdf = await page.pdf({ format: 'A4' });
      assert.ok(pdf.subarray(0, 5).toString() === '%PDF-', 'prints to PDF');
    } finally {
      await browser.close();
    }
  });
});

const CHAT_TABLE_SQL = (ts: string) =>
  `CREATE TABLE chat_logs (id INTEGER PRIMARY KEY, created_at ${ts}, user_id TEXT, tenant_id TEXT, session_id TEXT, model TEXT, messages TEXT)`;

async function seedSql(url: string, seeded: SeededLogs, ts: string): Promise<void> {
  const db = await openDatabase(url);
  try {
    await db.execute(CHAT_TABLE_SQL(ts));
    for (let i = 0; i < seeded.rows.length; i += 50) {
      const chunk = seeded.rows.slice(i, i + 50);
      await db.execute(
        `INSERT INTO chat_logs (id, created_at, user_id, tenant_id, session_id, model, messages) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap((r, k) => [
          i + k,
          String(r.timestamp),
          String(r.user_id),
          String(r.tenant_id),
          String(r.session_id),
          String(r.model),
          JSON.stringify(r.messages),
        ]),
      );
    }
  } finally {
    await db.close();
  }
}

describe('incident triage of live stores (read-only)', { timeout: 180_000 }, () => {
  let f: Fixture;
  before(async () => {
    f = await makeFixture();
  });
  after(async () => {
    await f.keys.close();
    rmSync(f.dir, { recursive: true, force: true });
  });

  for (const [engine, make, ts] of [
    ['PostgreSQL', createScratchDatabase, 'TEXT'],
    ['MariaDB', scratchMariaDb, 'VARCHAR(40)'],
    ['SQLite', async () => scratchSqlite(), 'TEXT'],
  ] as const) {
    it(`${engine}: every key and subject, in a read-only snapshot`, async () => {
      const store = await make();
      try {
        await seedSql(store.url, f.seeded, ts);
        const result = await triage(store.url, { fingerprintKey: FP_KEY, keys: f.keys });
        assertFindsEverything(result, f);
        assert.deepEqual(
          result.parts.map((p) => p.truncated),
          [false],
        );
        const capped = await triage(store.url, { fingerprintKey: FP_KEY, maxRowsPerTable: 150 });
        assert.equal(capped.rows, 150);
        assert.equal(capped.parts[0]?.truncated, true);
      } finally {
        await store.drop();
      }
    });
  }

  it('Redis: every key and subject from string and hash values', async () => {
    const port = 31379;
    const server = await startTestRedis(port);
    try {
      const commands = f.seeded.rows.map((r, i) =>
        i % 2 === 0
          ? ['SET', `chat:${i}`, JSON.stringify(r)]
          : [
              'HSET',
              `chat:${i}`,
              'timestamp',
              String(r.timestamp),
              'user_id',
              String(r.user_id),
              'tenant_id',
              String(r.tenant_id),
              'session_id',
              String(r.session_id),
              'messages',
              JSON.stringify(r.messages),
            ],
      );
      const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
      execFileSync('redis-cli', ['-p', String(port)], { input: commands.map((c) => c.map(quote).join(' ')).join('\n'), stdio: ['pipe', 'ignore', 'inherit'] });
      assertFindsEverything(await triage(`redis://127.0.0.1:${port}/0`, { fingerprintKey: FP_KEY, keys: f.keys }), f);
    } finally {
      server.kill('SIGKILL');
    }
  });
});

describe('closing the loop: scan of an open ClickHouse to revoked keys and an open incident', { timeout: 180_000 }, () => {
  let f: Fixture;
  let ch: TestClickHouse;
  before(async () => {
    f = await makeFixture();
    ch = await startTestClickHouse({ httpPort: 31323, tcpPort: 31902 });
    await ch.query(
      'CREATE TABLE default.log_stream (timestamp DateTime, user_id String, tenant_id String, session_id String, model String, messages String) ENGINE = MergeTree ORDER BY timestamp',
    );
    const lines = f.seeded.rows.map((r) =>
      JSON.stringify({ ...r, timestamp: Math.floor(Date.parse(String(r.timestamp)) / 1000), messages: JSON.stringify(r.messages) }),
    );
    await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${lines.join('\n')}`);
    await ch.query('CREATE TABLE default.metrics (at DateTime, value Float64) ENGINE = MergeTree ORDER BY at');
  });
  after(async () => {
    await ch?.stop();
    await f?.keys.close();
    if (f) rmSync(f.dir, { recursive: true, force: true });
  });

  it('opens an exposed-log-store incident, triages the flagged table, and revokes only under the policy', async () => {
    const checksum = () => ch.query('SELECT count(), sum(cityHash64(*)) FROM default.log_stream FORMAT TSV');
    const before = await checksum();
    const started = Date.now();
    const report = await scan({ targets: ['127.0.0.1:31323'], sample: 100 });
    const finding = report.findings.find((x) => x.probe === 'clickhouse-http');
    assert.equal(finding?.severity, 'critical', JSON.stringify(report.findings));

    const listed = await respondToExposure(finding, { incidents: f.incidents, keys: f.keys, fingerprintKey: FP_KEY });
    assert.equal(listed.acted, true);
    assert.equal(listed.incident?.kind, 'exposed-log-store');
    assert.deepEqual(
      listed.triage?.parts.map((p) => p.name),
      ['default.log_stream'],
      'only the flagged table',
    );
    assertFindsEverything(listed.triage!, f);
    assert.equal(listed.triage!.credentials.warden.filter((w) => w.action === 'would-revoke').length, 3, 'no policy: nothing revoked');
    for (const id of f.ids.slice(0, 3)) assert.equal((await f.keys.show(id)).status, 'active');

    const revoked = await respondToExposure(finding, { incidents: f.incidents, keys: f.keys, fingerprintKey: FP_KEY, revokeWardenKeys: true });
    assert.equal(revoked.reopened, true);
    assert.equal(revoked.incident?.id, listed.incident?.id, 'the same open incident');
    for (const id of f.ids) assert.equal((await f.keys.show(id)).status, 'revoked');
    const status = await f.incidents.status(revoked.incident!.id);
    assert.equal(status.incident.status, 'open');
    assert.equal(status.timeline.filter((e) => e.type === 'key-revoked').length, 3);
    assert.ok(status.timeline.some((e) => e.type === 'scan-finding'));
    assert.equal(await checksum(), before, 'the exposed store is unchanged');
    assert.ok(Date.now() - started < 60_000);

    const quiet = await respondToExposure({ ...finding, auth: 'required', severity: 'high' }, { incidents: f.incidents, fingerprintKey: FP_KEY });
    assert.equal(quiet.acted, false);
  });
});
