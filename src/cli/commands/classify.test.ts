import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../../../test/helpers/cli.js';
import { aiChatRow, createAiChatTable, insertAiChatRows } from '../../../test/fixtures/ai-chat.js';
import { openDatabase } from '../../db/index.js';
import { scratchSqlite } from '../../../test/helpers/scratch-databases.js';

describe('warden classify (CLI)', () => {
  /** A scratch SQLite store holding `rows` rows of the AI chat log table main.chat_logs, dropped after `use`. */
  async function withChatLogs(rows: number, use: (url: string) => Promise<void>): Promise<void> {
    const store = scratchSqlite();
    const db = await openDatabase(store.url);
    try {
      await createAiChatTable(db, { schema: 'main', name: 'chat_logs' });
      await insertAiChatRows(
        db,
        { schema: 'main', name: 'chat_logs' },
        Array.from({ length: rows }, (_, i) => aiChatRow(i + 1, new Date())),
      );
      await use(store.url);
    } finally {
      await db.close();
      await store.drop();
    }
  }

  it('exits 1 with --fail-on credential, prints JSON without values, writes a Markdown report', async () => {
    await withChatLogs(40, async (url) => {
      const report = `${new URL(url).pathname}.md`;
      const env = { WARDEN_FINGERPRINT_KEY: 'cli-test' };
      const res = await runCli(['classify', url, '--format', 'json', '--fail-on', 'credential', '--report', report], { env });
      assert.equal(res.code, 1, res.stderr);
      assert.match(res.stderr, /main\.chat_logs\.request_headers holds credential/);
      const json = JSON.parse(res.stdout);
      const cols = json.stores[0].tables[0].columns;
      assert.ok(cols.find((c: { column: string }) => c.column === 'request_headers').credentials.length > 0);
      assert.ok(!res.stdout.includes('sk-proj-'));
      const { readFileSync } = await import('node:fs');
      assert.match(readFileSync(report, 'utf8'), /\| main\.chat_logs\.messages \| text \| 40 \| chat-transcript \|/);
      const clean = await runCli(['classify', url, '--format', 'json', '--fail-on', 'payment-card', '--min-confidence', '0.99'], { env });
      assert.equal(clean.code, 0, clean.stderr);
      const bad = await runCli(['classify', 'postgres://u:pw@127.0.0.1/x'], { env });
      assert.equal(bad.code, 2);
      assert.ok(!bad.stderr.includes(':pw@'));
    });
  });

  it('--format sarif lists every credential a sampled column held, with its column and no value', async () => {
    await withChatLogs(10, async (url) => {
      const res = await runCli(['classify', url, '--format', 'sarif'], { env: { WARDEN_FINGERPRINT_KEY: 'cli-test' } });
      assert.equal(res.code, 0, res.stderr);
      const [run] = JSON.parse(res.stdout).runs;
      assert.equal(run.tool.driver.name, 'warden');
      assert.ok(run.results.length > 0);
      for (const r of run.results) {
        assert.match(r.message.text, /in main\.chat_logs\.\w+ \(\d+ sampled values?\)$/);
        assert.equal(r.locations[0].physicalLocation.artifactLocation.uri, url);
        assert.ok(r.partialFingerprints['wardenFingerprint/v1']);
      }
      assert.ok(run.results.some((r: { properties: { column: string } }) => r.properties.column === 'request_headers'));
      assert.ok(!res.stdout.includes('sk-proj-'));
    });
  });
});
