import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expandSample, getDefaultDetector } from '../detect/index.js';
import { openDatabase, type Database } from '../db/index.js';
import { createScratchDatabase, scratchClickHouse, scratchMariaDb, scratchSqlite, type ScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { startTestClickHouse, type TestClickHouse } from '../../test/helpers/clickhouse.js';
import { aiChatRow, createAiChatTable, insertAiChatRows } from '../../test/fixtures/ai-chat.js';
import { AI_LAYOUTS, createAiLayout } from '../../test/fixtures/ai-layouts.js';
import {
  classifyColumn,
  classifyStore,
  tableContext,
  formatClassificationMarkdown,
  formatClassificationTable,
  luhnValid,
  type ColumnClassification,
  type StoreClassification,
} from './index.js';

const options = { detector: getDefaultDetector(), fingerprintKey: 'classify-test-key' };
const categoriesOf = (name: string, type: string, values: unknown[]) => classifyColumn({ name, type }, values, options).categories.map((d) => d.category);

describe('classifyColumn', () => {
  it('checks card numbers with Luhn, so a random 16-digit id is not a card', () => {
    assert.equal(luhnValid('4111111111111111'), true);
    assert.equal(luhnValid('4111111111111112'), false);
    const ids = Array.from({ length: 50 }, (_, i) => String(4000000000000000 + i * 7919 * 1001));
    assert.ok(!categoriesOf('ref', 'text', ids).includes('payment-card'));
  });

  it('reads prompt_tokens as request metadata, never as a prompt or a credential', () => {
    const cats = categoriesOf('prompt_tokens', 'integer', [12, 40, 77]);
    assert.deepEqual(cats, ['request-metadata']);
    assert.deepEqual(categoriesOf('total_tokens', 'text', ['12', '40']), ['request-metadata']);
  });

  it('says which evidence decided: name only, value only, or both', () => {
    const byName = classifyColumn({ name: 'user_email', type: 'text' }, [], options).categories[0]!;
    assert.equal(byName.category, 'pii.email');
    assert.equal(byName.basis, 'name');
    const emails = Array.from({ length: 20 }, (_, i) => `person${i}@example.org`);
    const byValue = classifyColumn({ name: 'contact', type: 'text' }, emails, options).categories[0]!;
    assert.equal(byValue.basis, 'value');
    const both = classifyColumn({ name: 'email', type: 'text' }, emails, options).categories[0]!;
    assert.equal(both.basis, 'name+value');
    assert.ok(both.confidence > byValue.confidence && byValue.confidence > byName.confidence);
  });

  it('puts one-way password hashes (bcrypt, Argon2, scrypt, PBKDF2, SHA-crypt) in password-hash, never credential', () => {
    const formats: Record<string, string> = {
      bcrypt: '$2b$12${alnum:53}',
      argon2id: '$argon2id$v=19$m=65536,t=3,p=4${base64:22}${base64:43}',
      'django-argon2': 'argon2$argon2id$v=19$m=102400,t=2,p=8${base64:22}${base64:22}',
      'scrypt-passlib': '$scrypt$ln=16,r=8,p=1${base64:22}${base64:43}',
      'scrypt-libsodium': '$7$C6..../....{alnum:12}${alnum:43}',
      'django-scrypt': 'scrypt$16384${alnum:22}$8$1${base64:44}',
      yescrypt: '$y$j9T${alnum:22}${alnum:43}',
      'django-pbkdf2': 'pbkdf2_sha256$870000${alnum:22}${base64:44}',
      'passlib-pbkdf2': '$pbkdf2-sha256$29000${alnum:22}${alnum:43}',
      'werkzeug-pbkdf2': 'pbkdf2:sha256:600000${alnum:16}${hex:64}',
      'sha512-crypt': '$6$rounds=5000${alnum:16}${alnum:86}',
      'sha256-crypt': '$5${alnum:16}${alnum:43}',
    };
    for (const [format, template] of Object.entries(formats)) {
      const hashes = Array.from({ length: 5 }, (_, i) => expandSample(template, i + 1));
      for (const name of ['password_hash', 'password', 'encrypted_password', 'secret']) {
        const result = classifyColumn({ name, type: 'text' }, hashes, options);
        const cats = result.categories.map((d) => d.category);
        assert.equal(cats[0], 'password-hash', `${format} under ${name}: ${JSON.stringify(cats)}`);
        assert.ok(!cats.includes('credential'), `${format} under ${name} is not a credential`);
        assert.deepEqual(result.credentials, []);
      }
    }
    assert.deepEqual(categoriesOf('password_hash', 'text', []), ['password-hash'], 'the name alone says hash, not credential');
    assert.deepEqual(categoriesOf('password', 'text', ['hunter2-but-longer', 'correct horse battery']), ['credential'], 'a plaintext password is a credential');
  });

  it('reads a role column as chat roles only when the model side of a conversation is there', () => {
    const text = Array.from({ length: 20 }, (_, i) => `Please look at ticket ${i} again, the customer wrote back this morning.`);
    const users = tableContext({ name: 'accounts' }, [
      { name: 'role', type: 'text', values: Array.from({ length: 20 }, (_, i) => (i % 5 ? 'user' : 'admin')) },
      { name: 'message', type: 'text', values: text },
    ]);
    assert.equal(users.size, 0, 'a users table with role = user and a message column is not a chat');
    const onlyUser = tableContext({ name: 'notes' }, [
      { name: 'role', type: 'text', values: Array(20).fill('user') },
      { name: 'content', type: 'text', values: text },
    ]);
    assert.equal(onlyUser.size, 0);
    const chat = tableContext({ name: 'notes' }, [
      { name: 'role', type: 'text', values: Array.from({ length: 20 }, (_, i) => (i % 2 ? 'user' : 'assistant')) },
      { name: 'content', type: 'text', values: text },
    ]);
    assert.equal(chat.get('content')?.[0]?.category, 'chat-transcript');
    const notTools = tableContext({ name: 'settings' }, [
      { name: 'function', type: 'text', values: Array(20).fill('billing') },
      { name: 'params', type: 'text', values: Array(20).fill('plain text, not JSON') },
    ]);
    assert.equal(notTools.size, 0, 'parameters that are not JSON do not make a tool-call table');
  });

  it("carries the engine's confidence: weak passwords and checksum-invalid tokens are credentials, with less weight", () => {
    const weakValues = ['retry with password=hunter2', `token ${expandSample('ghp_{alnum:36}')}`];
    // Below the default --min-confidence the column is not called a credential column; its sightings are still listed.
    assert.ok(!classifyColumn({ name: 'notes', type: 'text' }, weakValues, options).categories.some((d) => d.category === 'credential'));
    const weak = classifyColumn({ name: 'notes', type: 'text' }, weakValues, { ...options, minConfidence: 0 });
    assert.deepEqual(
      weak.credentials.map((c) => [c.ruleId, c.confidence]),
      [
        ['generic-password-assignment', 'low'],
        ['github-pat', 'low'],
      ],
    );
    const sure = classifyColumn({ name: 'notes', type: 'text' }, [`token ${expandSample('ghp_{alnum:30}{crc32b62:6}')}`], options);
    assert.deepEqual(
      sure.credentials.map((c) => [c.confidence, c.reason]),
      [['high', 'checksum verifies']],
    );
    const weight = (c: typeof weak) => c.categories.find((d) => d.category === 'credential')?.confidence ?? 0;
    assert.ok(weight(weak) < weight(sure) && weight(weak) > 0, `${weight(weak)} < ${weight(sure)}`);
  });

  it('reports fingerprints of secrets, never the secrets', () => {
    const values = [aiChatRow(1, new Date()).request_headers, aiChatRow(2, new Date()).request_headers];
    const result = classifyColumn({ name: 'headers', type: 'text' }, values, options);
    assert.equal(result.categories[0]!.category, 'credential');
    assert.equal(result.credentials.length, 2);
    const serialised = JSON.stringify(result);
    for (const v of values) assert.ok(!serialised.includes(JSON.parse(v).authorization.slice(7, 30)));
  });
});

const EXPECTED: Record<string, string> = {
  messages: 'chat-transcript',
  response: 'completion',
  tool_calls: 'tool-call',
  request_headers: 'credential',
  embedding: 'embedding',
  user_email: 'pii.email',
  client_ip: 'pii.ip-address',
  customer_name: 'pii.person-name',
  card_number: 'payment-card',
  feedback: 'free-text',
  model: 'request-metadata',
  prompt_tokens: 'request-metadata',
  latency_ms: 'request-metadata',
  request_id: 'request-metadata',
};
const METADATA = ['id', 'created_at', 'tenant_id', 'request_id', 'model', 'prompt_tokens', 'completion_tokens', 'latency_ms'];

function checkSeededClassification(report: StoreClassification) {
  const table = report.tables.find((t) => t.name === 'chat_logs');
  assert.ok(table, 'chat_logs listed');
  assert.deepEqual(report.errors, []);
  for (const [column, category] of Object.entries(EXPECTED)) {
    const c: ColumnClassification = table.columns.find((x) => x.column === column)!;
    assert.ok(
      c.categories.some((d) => d.category === category),
      `${column}: expected ${category}, got ${JSON.stringify(c.categories.map((d) => [d.category, d.confidence]))}`,
    );
    assert.ok(c.sampled > 0 && c.sampled <= report.sampleSize);
  }
  for (const column of METADATA) {
    const c: ColumnClassification = table.columns.find((x) => x.column === column)!;
    assert.ok(!c.categories.some((d) => d.category === 'credential'), `no credential in ${column}`);
    assert.equal(c.credentials.length, 0);
  }
  const text = formatClassificationMarkdown([report]) + formatClassificationTable([report]) + JSON.stringify(report);
  assert.ok(!text.includes('sk-proj-'), 'no secret in any report format');
  assert.ok(!text.includes('@example.com'), 'no sampled value in any report format');
}

async function classifySeeded(url: string, schema: string): Promise<StoreClassification> {
  const db: Database = await openDatabase(url);
  try {
    const table = { schema, name: 'chat_logs' };
    await createAiChatTable(db, table);
    const now = Date.now();
    await insertAiChatRows(
      db,
      table,
      Array.from({ length: 300 }, (_, i) => aiChatRow(i + 1, new Date(now - i * 3_600_000))),
    );
    return await classifyStore(db, { ...options, sampleSize: 60 });
  } finally {
    await db.close();
  }
}

/** Classifies every AI-log layout on one engine and checks each expected category, and the order by confidence. */
async function checkAiLayouts(url: string, schema: string): Promise<void> {
  const db: Database = await openDatabase(url);
  try {
    for (const layout of AI_LAYOUTS) await createAiLayout(db, schema, layout, 60);
    const report = await classifyStore(db, { ...options, sampleSize: 40 });
    assert.deepEqual(report.errors, []);
    const problems: string[] = [];
    for (const layout of AI_LAYOUTS) {
      const table = report.tables.find((t) => t.name === layout.table);
      assert.ok(table, `${layout.table} listed`);
      const got = (column: string) => table.columns.find((c) => c.column === column)!.categories;
      for (const [column, categories] of Object.entries(layout.expect)) {
        const decided = got(column);
        const missing = categories.filter((c) => !decided.some((d) => d.category === c));
        if (missing.length)
          problems.push(
            `${layout.table}.${column} (${layout.what}): missing ${missing.join(', ')}; got ${JSON.stringify(decided.map((d) => [d.category, d.confidence, d.basis]))}`,
          );
        const confidences = decided.map((d) => d.confidence);
        assert.deepEqual(
          confidences,
          [...confidences].sort((a, b) => b - a),
          'ordered by confidence',
        );
      }
      for (const [column, categories] of Object.entries(layout.never ?? {})) {
        const wrong = got(column).filter((d) => categories.includes(d.category));
        if (wrong.length) problems.push(`${layout.table}.${column}: must not hold ${wrong.map((d) => `${d.category} ${d.confidence}`).join(', ')}`);
      }
    }
    assert.deepEqual(problems, []);
    const text = JSON.stringify(report) + formatClassificationMarkdown([report]);
    assert.ok(!text.includes('sk-proj-') && !text.includes('rotate the database'), 'no sampled value in the report');
  } finally {
    await db.close();
  }
}

describe('classifyStore on real stores', () => {
  let clickhouse: TestClickHouse;
  const stores: ScratchDatabase[] = [];
  before(async () => {
    clickhouse = await startTestClickHouse({ httpPort: 31123, tcpPort: 31900 });
  });
  after(async () => {
    for (const s of stores) await s.drop().catch(() => {});
    await clickhouse?.stop();
  });

  it('PostgreSQL (TABLESAMPLE)', async () => {
    const s = await createScratchDatabase();
    stores.push(s);
    checkSeededClassification(await classifySeeded(s.url, 'public'));
  });

  it('MariaDB', async () => {
    const s = await scratchMariaDb();
    stores.push(s);
    checkSeededClassification(await classifySeeded(s.url, new URL(s.url).pathname.slice(1)));
  });

  it('ClickHouse 18.16 over HTTP', async () => {
    const s = await scratchClickHouse(clickhouse);
    stores.push(s);
    checkSeededClassification(await classifySeeded(s.url, new URL(s.url).pathname.slice(1)));
  });

  it('SQLite', async () => {
    const s = scratchSqlite();
    stores.push(s);
    checkSeededClassification(await classifySeeded(s.url, 'main'));
  });

  it('AI-log layouts by table context: PostgreSQL', async () => {
    const s = await createScratchDatabase();
    stores.push(s);
    await checkAiLayouts(s.url, 'public');
  });

  it('AI-log layouts by table context: MariaDB', async () => {
    const s = await scratchMariaDb();
    stores.push(s);
    await checkAiLayouts(s.url, new URL(s.url).pathname.slice(1));
  });

  it('AI-log layouts by table context: ClickHouse 18.16', async () => {
    const s = await scratchClickHouse(clickhouse);
    stores.push(s);
    await checkAiLayouts(s.url, new URL(s.url).pathname.slice(1));
  });
});
