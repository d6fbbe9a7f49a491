// The Markdown report with names an attacker chose: a table whose name holds Markdown and HTML.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../store/index.js';
import { buildRegimes, IncidentStore, parseDeadlineRule, renderMarkdown, type TriageResult } from './index.js';

const HOSTILE = 'logs|x`code`[x](http://evil.example)\n| injected | row |\r<script>alert(1)</script> www.evil.example **b** _i_ ~~s~~ \\';

describe('renderMarkdown', () => {
  it('keeps attacker-chosen names as text: no table cell break, link, autolink, code span, HTML or new row', async () => {
    const store = openStore(':memory:');
    const incidents = await IncidentStore.open(store);
    try {
      const incident = await incidents.open(
        { kind: 'exposed-log-store', title: `Open clickhouse holding ${HOSTILE}`, regimes: buildRegimes(['gdpr']) },
        'test',
      );
      const triage: TriageResult = {
        source: `clickhouse://default@127.0.0.1:8123/${HOSTILE}`,
        sourceKey: `clickhouse://127.0.0.1:8123/${HOSTILE}`,
        status: 'partial',
        bytes: 10,
        rows: 1,
        parts: [{ name: `default.${HOSTILE}`, rows: 1, truncated: false }],
        durationMs: 1,
        timeRange: null,
        credentials: { occurrences: 0, distinct: 0, warden: [], thirdParty: [] },
        subjects: [{ kind: 'user', fields: [`${HOSTILE}.user_id`], distinct: 1, rows: 1, counts: [] }],
        categories: [],
        atlas: [],
        errors: [{ part: HOSTILE, message: `HTTP 500: ${HOSTILE}` }],
      };
      await incidents.saveTriage(incident.id, triage);
      const md = renderMarkdown({ ...(await incidents.status(incident.id)), triages: [triage] });
      assert.ok(!md.includes('<script>') && md.includes('&lt;script&gt;'), 'HTML is entity-escaped');
      assert.ok(!/(?<!\\)\]\(/.test(md) && !md.includes('http://') && !md.includes('www.evil'), 'no link or autolink can form');
      assert.ok(!/[^\\]`/.test(md), 'every backtick is escaped');
      assert.ok(!/(^|[^\\])\[x/.test(md), 'no bracket starts a link');
      for (const line of md.split('\n').filter((l) => l.startsWith('|'))) {
        assert.ok(!line.includes('| injected |'), `no injected row: ${line}`);
        // Cell separators are the unescaped pipes: a row has as many as its header.
        const cells = line.replace(/\\\\/g, '').split(/(?<!\\)\|/).length;
        assert.ok(cells >= 3 && cells <= 8, line);
      }
      assert.ok(!md.split('\n').some((l) => l.startsWith('<') || l.startsWith('| injected')), 'no line starts outside the table');
      assert.match(md, /\\\*\\\*b\\\*\\\* \\_i\\_ \\~\\~s\\~\\~ \\\\/);
    } finally {
      await incidents.close();
      await store.close();
    }
  });

  it('reads a deadline weeks away in days and hours, not in hundreds of hours', async () => {
    const store = openStore(':memory:');
    const incidents = await IncidentStore.open(store);
    try {
      const awareAt = Date.parse('2025-01-29T10:00:00Z');
      const incident = await incidents.open(
        { kind: 'exposed-log-store', awareAt, detectedAt: awareAt, regimes: buildRegimes(['gdpr'], [parseDeadlineRule('long-duty:A long duty:40d')]) },
        'test',
      );
      // 40 days after awareness, seen 160 hours after it: 800 hours left. GDPR's 72 hours are 88 hours past.
      const now = awareAt + 160 * 3_600_000;
      const md = renderMarkdown({ ...(await incidents.status(incident.id, now)), triages: [], generatedAt: now });
      assert.match(md, /\| A long duty \| aware \| [^|]+ \| due \| 33 d 8 h left \|/);
      assert.match(md, /\| overdue \| 3 d 16 h overdue \|/);
      assert.ok(!/\d{3,} h/.test(md), 'no hundreds of hours');
    } finally {
      await incidents.close();
      await store.close();
    }
  });
});
