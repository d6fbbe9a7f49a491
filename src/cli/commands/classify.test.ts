import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../../../test/helpers/cli.js';
import { aiChatRow, createAiChatTable, insertAiChatRows } from '../../../test/fixtures/ai-chat.js';
import { openDatabase } from '../../db/index.js';
import { scratchSqlite } from '../../../test/helpers/scratch-databases.js';

describe('warden classify (CLI)', () => {
  it('exits 1 with --fail-on credential, prints JSON without values, writes a Markdown report', async () => {
    const store = scratchSqlite();
    const db = await openDatabase(store.url);
    try {
      await createAiChatTable(db, { schema: 'main', name: 'chat_logs' });
      await insertAiChatRows(db, { schema: 'main', name: 'chat_logs' }, Array.from({ length: 40 }, (_, i) => aiChatRow(i + 1, new Date())));
      const report = `${new URL(store.url).pathname}.md`;
      const env = { WARDEN_FINGERPRINT_KEY: 'cli-test' };
      const res = await runCli(['classify', store.url, '--format', 'json', '--fail-on', 'credential', '--report', report], { env });
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /main\.chat_logs\.request_headers holds credential/);
      const json = JSON.parse(res.stdout);
      const cols = json.stores[0].tables[0].columns;
      assert.ok(cols.find((c: { column: string }) => c.column === 'request_headers').credentials.length > 0);
      assert.ok(!res.stdout.includes('sk-proj-'));
      const { readFileSync } = await import('node:fs');
      assert.match(readFileSync(report, 'utf8'), /\| main\.chat_logs\.messages \| text \| 40 \| chat-transcript \|/);
      const clean = await runCli(['classify', store.url, '--format', 'json', '--fail-on', 'payment-card', '--min-confidence', '0.99'], { env });
      assert.equal(clean.code, 0, clean.stderr);
      const bad = await runCli(['classify', 'postgres://u:pw@127.0.0.1/x'], { env });
      assert.equal(bad.code, 2);
      assert.ok(!bad.stderr.includes(':pw@'));
    } finally {
      await db.close();
      await store.drop();
    }
  });
});
