import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { aiChatRow, createAiChatTable, insertAiChatRows, type AiChatRow } from '../../test/fixtures/ai-chat.js';
import { openDatabase, type Database } from '../db/index.js';
import { createScratchDatabase, scratchClickHouse, scratchMariaDb, scratchSqlite, type ScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { expandSample, getDefaultDetector } from '../detect/index.js';
import { applyRetention, createAuditLog, cutoffFor, parsePolicy, planRetention, PolicyError, type RetentionPolicy } from './index.js';

const DAY = 86_400_000;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const classify = { detector: getDefaultDetector(), fingerprintKey: 'retention-test-key', sampleSize: 50 };
const fast = { batchSize: 37, pauseMs: 0, maxLockMs: 2000, mutationTimeoutMs: 60_000 };
/** The run clock: a whole second an hour ago, so --as-of stays in the past and every engine stores it exactly. */
const NOW = new Date(Math.floor((Date.now() - 3_600_000) / 1000) * 1000);
const HELD_TENANT = 'tenant-held';
const POLICY = `version: 1
tenantColumn: tenant_id
categories:
  chat-transcript: 30d
  request-metadata: 400d
legalHolds:
  - tenant: ${HELD_TENANT}
    reason: litigation hold 2025-17
    expires: ${new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10)}
  - tenant: tenant-lapsed
    reason: expired hold, no longer binding
    expires: 2020-01-01
  - table: chat_archive
    reason: regulator inquiry
    expires: ${new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10)}
`;

/** Ages around the 30-day boundary, in ms before NOW; the exact boundary row must survive. */
const AGES = [45 * DAY, 31 * DAY, 30 * DAY + 1000, 30 * DAY, 30 * DAY - 1000, 29 * DAY, DAY, 0];

function seedRows(count: number): AiChatRow[] {
  return Array.from({ length: count }, (_, i) => {
    const id = i + 1;
    const tenant = id % 10 === 0 ? HELD_TENANT : id % 10 === 1 ? 'tenant-lapsed' : `tenant-${id % 3}`;
    return aiChatRow(id, new Date(NOW.getTime() - AGES[id % AGES.length]!), tenant);
  });
}

/** Which ids a correct run keeps: inside the window (at or after the cutoff) or held by a live tenant hold. */
function expectedSurvivors(rows: readonly AiChatRow[]): number[] {
  const cutoff = NOW.getTime() - 30 * DAY;
  return rows.filter((r) => r.created_at.getTime() >= cutoff || r.tenant_id === HELD_TENANT).map((r) => r.id);
}

async function ids(db: Database, schema: string, table = 'chat_logs'): Promise<number[]> {
  const rows = await db.query<{ id: unknown }>(`SELECT id FROM ${db.qualified({ schema, name: table })} ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

describe('retention policy', () => {
  it('names the line of a schema error', () => {
    const text = 'version: 1\ncategories:\n  chat-transcript: 30 days\n  promtp: 30d\ntables:\n  - table: logs\n    window: 7d\n    colour: blue\n';
    assert.throws(
      () => parsePolicy(text, 'p.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.match(err.message, /p\.yaml:3: categories\.chat-transcript: expected a window in whole days/);
        assert.match(err.message, /p\.yaml:4: categories: unknown category "promtp"/);
        assert.match(err.message, /p\.yaml:8: tables\.0: unknown field "colour"/);
        return true;
      },
    );
    assert.throws(() => parsePolicy('version: 1\nlegalHolds:\n  - tenant: a\n', 'h.yaml'), /h\.yaml:3: legalHolds\.0: missing "reason"/);
  });

  it('computes one cutoff, rounded down, so the boundary row is kept', () => {
    const now = new Date('2025-03-31T12:34:56.789Z');
    assert.equal(cutoffFor(now, 30, 'datetime').toISOString(), '2025-03-01T12:34:56.000Z');
    assert.equal(cutoffFor(now, 30, 'date').toISOString(), '2025-03-01T00:00:00.000Z');
  });
});

async function runRetentionOn(db: Database, schema: string) {
  const rows = seedRows(240);
  await createAiChatTable(db, { schema, name: 'chat_logs' });
  await insertAiChatRows(db, { schema, name: 'chat_logs' }, rows);
  await createAiChatTable(db, { schema, name: 'chat_archive' });
  await insertAiChatRows(db, { schema, name: 'chat_archive' }, rows.slice(0, 80));
  const policy = parsePolicy(POLICY, 'policy.yaml');
  const plan = await planRetention(db, policy, { now: NOW, classify });
  const logs = plan.tables.find((t) => t.table === `${schema}.chat_logs`)!;
  assert.ok(logs, 'chat_logs found through classification');
  assert.equal(logs.windowDays, 30, 'the shortest window among the categories found');
  assert.ok(logs.categories.includes('chat-transcript'));
  const survivors = expectedSurvivors(rows);
  assert.equal(logs.pastWindow, rows.length - survivors.length);
  assert.ok(logs.heldRows! > 0);
  assert.equal(logs.oldest, new Date(NOW.getTime() - 45 * DAY).toISOString());
  const archive = plan.tables.find((t) => t.table === `${schema}.chat_archive`)!;
  assert.match(archive.refused!, /legal hold on the table: regulator inquiry/);
  assert.deepEqual(
    await ids(db, schema),
    rows.map((r) => r.id),
    'plan changes nothing',
  );

  const dir = mkdtempSync(join(tmpdir(), 'warden-audit-'));
  try {
    const audit = createAuditLog(join(dir, 'audit.jsonl'));
    const result = await applyRetention(db, plan, { ...fast, audit });
    const done = result.results.find((r) => r.table === `${schema}.chat_logs`)!;
    assert.equal(done.status, 'done', JSON.stringify(done));
    assert.equal(done.outcome.rowsDeleted, rows.length - survivors.length);
    assert.deepEqual(done.verification, { pastWindowRemaining: 0, mutationsPending: [], ok: true });
    assert.deepEqual(await ids(db, schema), survivors, 'exactly the rows past the window are gone, row by row');
    assert.deepEqual(
      await ids(db, schema, 'chat_archive'),
      rows.slice(0, 80).map((r) => r.id),
      'the held table is untouched',
    );
    const records = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      records.map((r) => r.event),
      ['start', 'finish'],
    );
    assert.equal(records[1].rowsDeleted, done.outcome.rowsDeleted);
    assert.ok(records[1].actor && records[1].cutoff === new Date(NOW.getTime() - 30 * DAY).toISOString());
    const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
    assert.ok(!log.includes('sk-proj-') && !log.includes('@example.com') && !log.includes('assistant'), 'the audit holds no data');

    const again = await applyRetention(db, await planRetention(db, policy, { now: NOW, classify }), { ...fast, audit });
    assert.equal(again.results.find((r) => r.table === `${schema}.chat_logs`)!.status, 'nothing-to-do');
    assert.deepEqual(await ids(db, schema), survivors);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return plan;
}

describe('retention on real stores', () => {
  let clickhouse: TestClickHouse;
  const stores: ScratchDatabase[] = [];
  before(async () => {
    clickhouse = await startTestClickHouse({ httpPort: 31223, tcpPort: 31901 });
  });
  after(async () => {
    for (const s of stores) await s.drop().catch(() => {});
    await clickhouse?.stop();
  });
  const open = async (s: ScratchDatabase) => {
    stores.push(s);
    return openDatabase(s.url);
  };
  const schemaOf = (s: ScratchDatabase) => new URL(s.url).pathname.slice(1);

  it('PostgreSQL: batched by primary key, exact rows, tenant and table holds kept, audited', async () => {
    const db = await open(await createScratchDatabase());
    try {
      const plan = await runRetentionOn(db, 'public');
      assert.equal(plan.tables.find((t) => t.table === 'public.chat_logs')!.method, 'batched-delete-by-primary-key');
    } finally {
      await db.close();
    }
  });

  it('PostgreSQL without a primary key deletes by ctid', async () => {
    const db = await open(await createScratchDatabase());
    try {
      await createAiChatTable(db, { schema: 'public', name: 'chat_logs' });
      await db.execute('ALTER TABLE chat_logs DROP CONSTRAINT chat_logs_pkey');
      const rows = seedRows(100).map((r) => ({ ...r, tenant_id: 'tenant-1' }));
      await insertAiChatRows(db, { schema: 'public', name: 'chat_logs' }, rows);
      const policy = parsePolicy('version: 1\ntables:\n  - table: chat_logs\n    window: 30d\n', 'p.yaml');
      const plan = await planRetention(db, policy, { now: NOW, classify });
      assert.equal(plan.tables[0]!.method, 'batched-delete-by-ctid');
      await applyRetention(db, plan, fast);
      assert.deepEqual(await ids(db, 'public'), expectedSurvivors(rows));
    } finally {
      await db.close();
    }
  });

  it('MariaDB: batched DELETE … LIMIT with a statement-time cap', async () => {
    const s = await scratchMariaDb();
    const db = await open(s);
    try {
      await runRetentionOn(db, schemaOf(s));
    } finally {
      await db.close();
    }
  });

  it('SQLite: batched by rowid', async () => {
    const db = await open(scratchSqlite());
    try {
      await runRetentionOn(db, 'main');
    } finally {
      await db.close();
    }
  });

  it('ClickHouse 18.16: drops expired partitions, mutates the rest and waits for is_done', async () => {
    const s = await scratchClickHouse(clickhouse);
    const db = await open(s);
    try {
      const plan = await runRetentionOn(db, schemaOf(s));
      const logs = plan.tables.find((t) => t.table.endsWith('.chat_logs'))!;
      assert.equal(logs.method, 'drop-partitions-then-mutation');
      assert.match(logs.methodDetail, /DROP PARTITION for [1-9]\d* fully expired/);
    } finally {
      await db.close();
    }
  });

  it('ClickHouse without time partitions uses a mutation; --native-ttl is refused on 18.16 with the reason', async () => {
    const s = await scratchClickHouse(clickhouse);
    const db = await open(s);
    try {
      const schema = schemaOf(s);
      await createAiChatTable(db, { schema, name: 'chat_logs' }, { partitionBy: '' });
      const rows = seedRows(120).map((r) => ({ ...r, tenant_id: 'tenant-1' }));
      await insertAiChatRows(db, { schema, name: 'chat_logs' }, rows);
      const policy = parsePolicy('version: 1\ntables:\n  - table: chat_logs\n    window: 30d\n', 'p.yaml');
      const ttl = await planRetention(db, policy, { now: NOW, classify, nativeTtl: true });
      assert.match(ttl.tables[0]!.refused!, /ClickHouse 18\.16\.\S+ has no TTL clause \(added in 19\.6\)/);
      const plan = await planRetention(db, policy, { now: NOW, classify });
      assert.equal(plan.tables[0]!.method, 'mutation');
      const result = await applyRetention(db, plan, fast);
      assert.equal(result.results[0]!.outcome.mutationIds.length, 1);
      assert.deepEqual(await ids(db, schema), expectedSurvivors(rows));
    } finally {
      await db.close();
    }
  });

  it('refuses a policy naming a table, hold scope, tenant column or tenant the store lacks, with the nearest names', async () => {
    for (const make of [createScratchDatabase, scratchMariaDb, () => scratchClickHouse(clickhouse)]) {
      const s = await make();
      const db = await open(s);
      try {
        const schema = db.engine === 'postgres' ? 'public' : schemaOf(s);
        await createAiChatTable(db, { schema, name: 'chat_logs' });
        await insertAiChatRows(db, { schema, name: 'chat_logs' }, seedRows(40));
        const until = new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10);
        const policy = parsePolicy(
          `version: 1
tenantColumn: tenant_id
categories:
  chat-transcript: 30d
tables:
  - table: chat_log
    window: 7d
legalHolds:
  - table: ${schema}.chat_log
    reason: r
    expires: ${until}
  - tenant: tenant-hel
    reason: r
    expires: ${until}
  - tenant: tenant-held
    tables: [chat_logz]
    reason: r
    expires: ${until}
  - tenant: tenant-held
    tenantColumn: tenant
    reason: r
    expires: ${until}
  - table: chat_lgs
    reason: lapsed holds bind nothing and are not checked
    expires: 2020-01-01
`,
          'p.yaml',
        );
        await assert.rejects(planRetention(db, policy, { now: NOW, classify }), (err: unknown) => {
          assert.ok(err instanceof PolicyError && err.exitCode === 2);
          const lines = err.message
            .split('\n')
            .slice(1)
            .map((l) => l.trim());
          assert.deepEqual(lines, [
            'tables.0.table: no table "chat_log"; nearest: chat_logs',
            `legalHolds.0.table: no table "${schema}.chat_log"; nearest: ${schema}.chat_logs`,
            'legalHolds.1.tenant: no row has tenant_id = "tenant-hel" in ' + `${schema}.chat_logs; nearest: tenant-held, tenant-0, tenant-1`,
            'legalHolds.2.tables.0: no table "chat_logz"; nearest: chat_logs',
            'legalHolds.3.tenantColumn: no table has a column "tenant"; nearest: tenant_id',
          ]);
          return true;
        });
        assert.equal((await ids(db, schema)).length, 40);
      } finally {
        await db.close();
      }
    }
  });

  it('PostgreSQL: credential: 0d with --allow-zero-window leaves a users table of password hashes alone', async () => {
    const db = await open(await createScratchDatabase());
    try {
      await db.execute('CREATE TABLE users (id bigint PRIMARY KEY, email text, password_hash text, created_at timestamptz NOT NULL)');
      const templates = [
        '$2b$12${alnum:53}',
        '$argon2id$v=19$m=65536,t=3,p=4${base64:22}${base64:43}',
        'pbkdf2_sha256$870000${alnum:22}${base64:44}',
        '$scrypt$ln=16,r=8,p=1${base64:22}${base64:43}',
        '$6$rounds=5000${alnum:16}${alnum:86}',
      ];
      for (let i = 1; i <= 40; i++)
        await db.execute('INSERT INTO users VALUES (?, ?, ?, ?)', [
          i,
          `user${i}@example.com`,
          expandSample(templates[i % templates.length]!, i),
          new Date(NOW.getTime() - i * DAY),
        ]);
      const policy = parsePolicy('version: 1\ncategories:\n  credential: 0d\n  chat-transcript: 30d\n', 'p.yaml');
      const plan = await planRetention(db, policy, { now: NOW, classify, allowZeroWindow: true });
      assert.deepEqual(plan.tables, [], 'no table holds a credential');
      assert.equal((await ids(db, 'public', 'users')).length, 40);
    } finally {
      await db.close();
    }
  });

  it('refuses a table without a timestamp column, and a 0-day window unless told', async () => {
    const db = await open(scratchSqlite());
    try {
      await db.execute('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
      await createAiChatTable(db, { schema: 'main', name: 'chat_logs' });
      await insertAiChatRows(db, { schema: 'main', name: 'chat_logs' }, seedRows(20));
      const policy: RetentionPolicy = parsePolicy('version: 1\ntables:\n  - table: notes\n    window: 30d\n  - table: chat_logs\n    window: 0d\n', 'p.yaml');
      const plan = await planRetention(db, policy, { now: NOW, classify });
      assert.match(plan.tables.find((t) => t.table === 'main.notes')!.refused!, /no timestamp column/);
      assert.match(plan.tables.find((t) => t.table === 'main.chat_logs')!.refused!, /--allow-zero-window/);
      const result = await applyRetention(db, plan, fast);
      assert.deepEqual(
        result.results.map((r) => r.status),
        ['refused', 'refused'],
      );
      assert.equal((await ids(db, 'main')).length, 20);
      const allowed = await planRetention(db, policy, { now: NOW, classify, allowZeroWindow: true });
      await applyRetention(db, allowed, fast);
      assert.deepEqual(await ids(db, 'main'), [7, 15], 'only rows exactly at the run clock are not older than it');
    } finally {
      await db.close();
    }
  });
});

/** Runs `warden retention apply` as its own process so the test can really kill it. */
function startCli(args: string[]) {
  const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', WARDEN_FINGERPRINT_KEY: 'k' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('retention apply killed mid-run', () => {
  for (const engine of ['postgres', 'mariadb'] as const) {
    it(`${engine}: SIGKILL between batches, rerun ends in the same state and deletes nothing inside the window`, async () => {
      const store = engine === 'postgres' ? await createScratchDatabase() : await scratchMariaDb();
      const schema = engine === 'postgres' ? 'public' : new URL(store.url).pathname.slice(1);
      const dir = mkdtempSync(join(tmpdir(), 'warden-kill-'));
      const db = await openDatabase(store.url);
      try {
        const rows = seedRows(3000);
        await createAiChatTable(db, { schema, name: 'chat_logs' });
        await insertAiChatRows(db, { schema, name: 'chat_logs' }, rows);
        await createAiChatTable(db, { schema, name: 'chat_archive' });
        const policyPath = join(dir, 'policy.yaml');
        writeFileSync(policyPath, POLICY);
        const args = [
          'retention',
          'apply',
          store.url,
          '--policy',
          policyPath,
          '--as-of',
          NOW.toISOString(),
          '--batch-size',
          '25',
          '--pause',
          '30ms',
          '--audit-log',
          join(dir, 'audit.jsonl'),
          '--format',
          'json',
          '--yes',
        ];
        const first = startCli(args);
        const total = rows.length;
        for (let i = 0; i < 600; i++) {
          const left = (await ids(db, schema)).length;
          if (left < total - 100) break;
          await sleep(50);
        }
        first.child.kill('SIGKILL');
        assert.equal(await first.exited, null, 'killed, not finished');
        const midway = (await ids(db, schema)).length;
        const survivors = expectedSurvivors(rows);
        assert.ok(midway < total && midway > survivors.length, `killed halfway (${midway} of ${total} left, ${survivors.length} to keep)`);
        assert.ok(
          survivors.every((id) => id <= total),
          'sanity',
        );
        const kept = new Set(await ids(db, schema));
        for (const id of survivors) assert.ok(kept.has(id), `row ${id} inside its window survived the kill`);

        const second = startCli(args);
        const code = await second.exited;
        assert.equal(code, 0, second.output().stderr);
        const report = JSON.parse(second.output().stdout);
        assert.equal(report.runs[0].results[0].verification.ok, true);
        assert.deepEqual(await ids(db, schema), survivors, 'same end state as an uninterrupted run');
        const events = readFileSync(join(dir, 'audit.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).event);
        assert.deepEqual(events, ['start', 'start', 'finish'], 'the killed run left a start record without a finish');
      } finally {
        await db.close();
        await store.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
