/**
 * Incident totals stay true: a source triaged again replaces its result (by what the source is, however
 * it was spelt), a triage that read nothing is recorded as failed and changes no total, and one that read
 * some parts is partial and counts what it read. Real files, a real PostgreSQL, Redis and ClickHouse ports
 * where nothing listens.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../db/index.js';
import { createScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { KeyStore, parseKeySecrets } from '../keys/index.js';
import { buildRegimes, identifySource, IncidentStore, renderMarkdown, retriage, triage, type Incident } from './index.js';
import { seedLogs, type SeededLogs } from './test-fixtures.js';
import { freePort } from '../../test/helpers/free-port.js';

const FP_KEY = 'incident-counts-test-fingerprint-key';
const ROWS = 200;
const USERS = 9;

describe('incident counts stay true', { timeout: 120_000 }, () => {
  let dir: string;
  let keys: KeyStore;
  let incidents: IncidentStore;
  let tokens: string[];
  let seeded: SeededLogs;
  const ndjson = () => seeded.rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warden-incident-counts-'));
    keys = await KeyStore.open({
      store: join(dir, 'warden.db'),
      secrets: parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64')),
      notifications: false,
    });
    incidents = await IncidentStore.open(keys.store);
    tokens = [];
    for (const owner of ['alice', 'bob', 'carol']) tokens.push((await keys.create({ owner, name: 'k', scopes: ['chat:write'] })).key);
    seeded = seedLogs(ROWS, USERS, tokens);
    mkdirSync(join(dir, 'dump'));
    writeFileSync(join(dir, 'dump', 'logs.ndjson'), ndjson());
    symlinkSync(join(dir, 'dump'), join(dir, 'link'));
  });
  after(async () => {
    await keys.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (): Promise<Incident> => incidents.open({ kind: 'exposed-log-store', regimes: buildRegimes(['gdpr']) }, 'test');
  const report = async (id: string) => renderMarkdown({ ...(await incidents.status(id)), triages: await incidents.triageResults(id) });
  const row = (md: string, item: string) => new RegExp(`^\\| ${item.replace(/[/()]/g, '\\$&')} \\| (.*) \\|$`, 'm').exec(md)?.[1];

  it('names a source by what it is, not by how it was spelt', async () => {
    const pg = (dsn: string) => identifySource(dsn, {}).key;
    assert.equal(pg('postgres://127.0.0.1/logs'), pg('postgresql://app@127.0.0.1:5432/logs'), 'user, scheme alias and default port do not matter');
    assert.equal(pg('postgres://app@127.0.0.1/'), pg('postgres://127.0.0.1:5432/app'), 'PostgreSQL’s default database is the user’s name');
    assert.notEqual(pg('postgres://127.0.0.1/logs'), pg('postgres://127.0.0.1/other'));
    assert.equal(pg('clickhouse://DB.Internal:8123/x'), pg('clickhouse+http://default@db.internal/x'));
    assert.equal(pg('redis://127.0.0.1:6379'), pg('redis://user@127.0.0.1/0'));
    const file = join(dir, 'dump', 'logs.ndjson');
    assert.equal(pg(file), pg(join(dir, 'link', '..', 'dump', 'x', '..', 'logs.ndjson')));
    assert.equal(pg(join(dir, 'link', 'logs.ndjson')), pg(file), 'a symbolic link is followed');
    assert.equal(pg(join(dir, 'dump')), pg(`${join(dir, 'dump')}/`));
  });

  it('the same dump triaged three times, spelt three ways: counted once, the last revocations shown, every triage on the timeline', async () => {
    const incident = await open();
    const on = { incident: { store: incidents, id: incident.id }, fingerprintKey: FP_KEY, keys };
    const first = await triage(join(dir, 'dump', 'logs.ndjson'), on);
    assert.equal(first.status, 'complete');
    assert.equal(first.credentials.warden.filter((w) => w.action === 'would-revoke').length, 3);
    await triage(join(dir, 'link', 'logs.ndjson'), { ...on, revoke: true });
    await triage(`${join(dir, 'dump')}/../dump/logs.ndjson`, on);

    const current = await incidents.triageResults(incident.id);
    assert.equal(current.length, 1, 'one source, one result');
    assert.equal((await incidents.triageResults(incident.id, 'all')).length, 3, 'the earlier results are kept');
    const md = await report(incident.id);
    assert.equal(row(md, 'Rows exposed (triaged)'), String(ROWS));
    assert.equal(row(md, 'Affected users / tenants / sessions'), `${USERS} / 3 / ${seeded.expected.sessions.size}`);
    assert.equal(row(md, 'Warden keys exposed / revoked'), '3 / 3');
    assert.equal(md.match(/^## Exposure scope/gm)?.length, 1, 'one scope section per source');
    assert.doesNotMatch(md, /would-revoke/, 'a revoked key is not shown as still to revoke');
    const triages = (await incidents.timeline(incident.id)).filter((e) => e.type === 'triage');
    assert.equal(triages.length, 3, 'the history stays on the timeline');
    assert.match(triages[2]!.message, /replaces the earlier triage of this source \(200 rows\)/);
  });

  it('two sources with the same users: rows add up, a user or key found in both counts once', async () => {
    const incident = await open();
    const on = { incident: { store: incidents, id: incident.id }, fingerprintKey: FP_KEY, keys };
    writeFileSync(join(dir, 'copy.ndjson'), ndjson());
    await triage(join(dir, 'dump', 'logs.ndjson'), on);
    await triage(join(dir, 'copy.ndjson'), on);
    const md = await report(incident.id);
    assert.equal(row(md, 'Sources triaged'), '2');
    assert.equal(row(md, 'Rows exposed (triaged)'), String(2 * ROWS));
    assert.equal(row(md, 'Affected users / tenants / sessions'), `${USERS} / 3 / ${seeded.expected.sessions.size}`);
    assert.equal(row(md, 'Warden keys exposed / revoked'), '3 / 3', 'revoked by the earlier test: already revoked');
    assert.equal(row(md, 'Third-party credentials exposed'), '9');
  });

  it('a path that does not exist: failed as bad input, in words on the timeline, and no total changes', async () => {
    const incident = await open();
    const on = { incident: { store: incidents, id: incident.id }, fingerprintKey: FP_KEY, keys };
    await triage(join(dir, 'dump', 'logs.ndjson'), on);
    const before = await report(incident.id);
    const result = await triage(join(dir, 'nonexistent'), on);
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.failure, { kind: 'input', reason: 'no such file or folder' });
    assert.equal((await incidents.triageResults(incident.id)).length, 1);
    const entry = (await incidents.timeline(incident.id)).at(-1)!;
    assert.equal(entry.type, 'triage-failed');
    assert.equal(entry.message, `Triage of ${join(dir, 'nonexistent')} failed (bad input): no such file or folder`);
    const afterwards = await report(incident.id);
    for (const item of ['Rows exposed (triaged)', 'Affected users / tenants / sessions', 'Warden keys exposed / revoked'])
      assert.equal(row(afterwards, item), row(before, item), item);
    assert.match(row(afterwards, 'Sources triaged')!, /^1; 1 failed attempt/);

    // A source that was read once and is gone now keeps its result: a failure replaces nothing.
    const gone = join(dir, 'gone.ndjson');
    writeFileSync(gone, ndjson());
    await triage(gone, on);
    rmSync(gone);
    assert.equal((await triage(gone, on)).status, 'failed');
    assert.deepEqual(
      (await incidents.triageResults(incident.id)).map((r) => [r.source, r.rows]),
      [
        [join(dir, 'dump', 'logs.ndjson'), ROWS],
        [gone, ROWS],
      ],
    );
  });

  it('a connection string with a password: failed as bad input, and the password is nowhere', async () => {
    const incident = await open();
    for (const [dsn, why] of [
      ['postgres://app:hunter2@127.0.0.1/logs', /refusing a password inside the connection string/],
      // A `/` in the password: the URL parser cannot read it; the message still shows none of it.
      ['postgres://app:hun/ter2@127.0.0.1/logs', /cannot parse connection string/],
      ['redis://app:hunter2@127.0.0.1:6379/0', /refusing a password inside the connection string/],
    ] as const) {
      const result = await triage(dsn, { incident: { store: incidents, id: incident.id }, fingerprintKey: FP_KEY, env: {} });
      assert.equal(result.failure?.kind, 'input', dsn);
      assert.match(result.failure!.reason, why);
    }
    const said = JSON.stringify([await incidents.timeline(incident.id), await incidents.triageResults(incident.id, 'all')]);
    assert.ok(!/hun|ter2/.test(said), said);
    assert.equal((await incidents.timeline(incident.id)).filter((e) => e.type === 'triage-failed').length, 3);
  });

  it('unreachable PostgreSQL, Redis, MariaDB and ClickHouse: failed runs with a readable reason, no total changed', async () => {
    const incident = await open();
    const on = { incident: { store: incidents, id: incident.id }, fingerprintKey: FP_KEY, env: {} };
    await triage(join(dir, 'dump', 'logs.ndjson'), on);
    const port = await freePort();
    for (const source of [`postgres://127.0.0.1:${port}/x`, `redis://127.0.0.1:${port}`, `mysql://127.0.0.1:${port}/x`, `clickhouse://127.0.0.1:${port}/`]) {
      const result = await triage(source, on);
      assert.equal(result.status, 'failed', source);
      assert.equal(result.failure?.kind, 'run', source);
      assert.match(result.failure!.reason, /connection refused \(nothing listens there\)/, source);
      const entry = (await incidents.timeline(incident.id)).at(-1)!;
      assert.equal(entry.type, 'triage-failed');
      assert.doesNotMatch(entry.message, /ECONNREFUSED|fetch failed/, 'no raw system error');
    }
    assert.deepEqual(
      (await incidents.triageResults(incident.id)).map((r) => r.rows),
      [ROWS],
    );

    // A re-triage that reads nothing says so in the same words; it never was a result.
    const again = await retriage(`postgres://127.0.0.1:${port}/x`, { ...on, tables: ['public.chat_logs'], rows: 100 });
    assert.equal(again.status, 'failed');
    const entry = (await incidents.timeline(incident.id)).at(-1)!;
    assert.deepEqual([entry.type, entry.details.status], ['retriage', 'failed']);
    assert.match(entry.message, /^Re-triage of postgres:\/\/postgres@127\.0\.0\.1:\d+\/x failed, nothing read: cannot connect to .*connection refused/);
  });

  it('PostgreSQL with one table the reader may not read: partial, what was read counted, the refused table named, no cursor past unread rows', async () => {
    const pg = await createScratchDatabase();
    const role = `warden_reader_${randomBytes(4).toString('hex')}`;
    const admin = await openDatabase(pg.url);
    try {
      const database = new URL(pg.url).pathname.slice(1);
      await admin.execute('CREATE TABLE chat_logs (id INTEGER PRIMARY KEY, user_id TEXT, messages TEXT)');
      await admin.execute('CREATE TABLE billing (id INTEGER PRIMARY KEY, user_id TEXT, card TEXT)');
      for (let i = 0; i < 20; i++) {
        await admin.execute('INSERT INTO chat_logs VALUES (?, ?, ?)', [i, `user-${i % 4}`, i === 3 ? `my key is ${tokens[0]}` : 'hello']);
        await admin.execute('INSERT INTO billing VALUES (?, ?, ?)', [i, `user-${i}`, '4111']);
      }
      await admin.execute(`CREATE ROLE ${role} LOGIN`);
      await admin.execute(`GRANT SELECT ON chat_logs TO ${role}`);
      // The key column only: the cursor can be taken, the rows cannot be read.
      await admin.execute(`GRANT SELECT (id) ON billing TO ${role}`);
      const incident = await open();
      const result = await triage(`postgres://${role}@127.0.0.1:5432/${database}`, {
        incident: { store: incidents, id: incident.id },
        fingerprintKey: FP_KEY,
        keys,
        env: {},
      });
      assert.equal(result.status, 'partial');
      assert.equal(result.rows, 20, 'the readable table is counted');
      assert.deepEqual(result.errors, [
        { part: 'public.billing', message: `postgres://${role}@127.0.0.1:5432/${database}: permission denied for table billing` },
      ]);
      assert.equal(result.credentials.warden.length, 1);
      assert.deepEqual(
        (await incidents.triageResults(incident.id)).map((r) => r.status),
        ['partial'],
      );
      const entry = (await incidents.timeline(incident.id)).filter((e) => e.type === 'triage').at(-1)!;
      assert.equal(entry.details.status, 'partial');
      assert.match(entry.message, /^Triaged postgres:\/\/\S+ in part: 20 rows.*; not read: public\.billing: .*permission denied for table billing/);
      assert.deepEqual(Object.keys(entry.details.cursors as object), ['public.chat_logs'], 'the unread table keeps no cursor');
      const status = await incidents.status(incident.id);
      assert.ok(
        status.remainingSteps.some((s) => s.id === 'triage'),
        'a partial triage leaves the triage step open',
      );
      assert.equal(row(await report(incident.id), 'Sources triaged'), '1 (1 in part: see their scope)');
    } finally {
      await admin.execute(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`).catch(() => undefined);
      await admin.close();
      await pg.drop();
      const cleanup = await openDatabase('postgres://postgres@127.0.0.1:5432/postgres');
      await cleanup.execute(`DROP ROLE IF EXISTS ${role}`).finally(() => cleanup.close());
    }
  });

  it('a folder with one corrupt gzip file: partial, the good file counted', async () => {
    mkdirSync(join(dir, 'mixed'));
    writeFileSync(join(dir, 'mixed', 'a.ndjson'), ndjson());
    writeFileSync(join(dir, 'mixed', 'b.ndjson.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b]), randomBytes(200)]));
    const result = await triage(join(dir, 'mixed'), { fingerprintKey: FP_KEY });
    assert.equal(result.status, 'partial');
    assert.equal(result.rows, ROWS);
    assert.deepEqual(
      result.errors.map((e) => e.part),
      [join(dir, 'mixed', 'b.ndjson.gz')],
    );
    assert.match(result.errors[0]!.message, /^not valid gzip data$|gzip/);
  });

  it('Warden marks the steps it did itself done: triage, and revocation once no key is left to revoke', async () => {
    const incident = await open();
    const on = { incident: { store: incidents, id: incident.id }, fingerprintKey: FP_KEY, keys };
    const fresh = (await keys.create({ owner: 'dave', name: 'k', scopes: ['chat:write'] })).key;
    writeFileSync(join(dir, 'fresh.ndjson'), `${JSON.stringify({ user_id: 'u', content: `key ${fresh}` })}\n`);
    await triage(join(dir, 'fresh.ndjson'), on);
    let status = await incidents.status(incident.id);
    assert.deepEqual(
      status.doneSteps.map((d) => [d.id, d.byWarden]),
      [['triage', true]],
    );
    assert.ok(
      status.remainingSteps.some((s) => s.id === 'revoke-warden-keys'),
      'a key is still to revoke',
    );
    await triage(join(dir, 'fresh.ndjson'), { ...on, revoke: true });
    status = await incidents.status(incident.id);
    assert.deepEqual(status.doneSteps.map((d) => d.id).sort(), ['revoke-warden-keys', 'triage']);
    const md = await report(incident.id);
    const remaining = md.slice(md.indexOf('## Remaining playbook steps'));
    assert.doesNotMatch(remaining, /Triage the exposed tables|Revoke every exposed Warden key/);
  });
});
