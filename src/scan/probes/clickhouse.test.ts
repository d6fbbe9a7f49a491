/**
 * The DeepSeek reproduction, against real ClickHouse servers (Debian's clickhouse-server, started here
 * as child processes): one with no password on the default user, one with a password.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { expandSample } from '../../detect/index.js';
import { scan } from '../index.js';
import { startTestClickHouse, type TestClickHouse } from '../../../test/helpers/clickhouse.js';
import { itScansHostilePeersAsUnknown } from '../../../test/helpers/hostile-peers.js';
import { clickhouseHttp } from './clickhouse-http.js';
import { clickhouseNative } from './clickhouse-native.js';

const probes = [clickhouseHttp, clickhouseNative];
const ROWS = 40;
const KEYED_ROWS = 7;

async function seedChatLogs(ch: TestClickHouse): Promise<void> {
  await ch.query(
    'CREATE TABLE default.log_stream (timestamp DateTime, span_name String, `string.values` String, _service String) ENGINE = MergeTree ORDER BY timestamp',
  );
  const rows: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    const key = i < KEYED_ROWS ? ` Authorization: Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 1000 + i)}` : '';
    const chat = JSON.stringify({ role: 'user', content: `question number ${i} about the weather` });
    rows.push(JSON.stringify({ timestamp: 1736121600 + i, span_name: '/v1/chat/completions', 'string.values': `${chat}${key}`, _service: 'api' }));
  }
  await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${rows.join('\n')}`);
}

const checksum = (ch: TestClickHouse) => ch.query('SELECT count(), sum(cityHash64(*)) FROM default.log_stream FORMAT TSV');

describe('ClickHouse probes against real servers', { timeout: 120_000 }, () => {
  let open: TestClickHouse;
  let locked: TestClickHouse;
  before(async () => {
    [open, locked] = await Promise.all([
      startTestClickHouse({ httpPort: 18123, tcpPort: 19000 }),
      startTestClickHouse({ httpPort: 28123, tcpPort: 29000, password: 'locked-test-password' }),
    ]);
    await Promise.all([seedChatLogs(open), seedChatLogs(locked)]);
  });
  after(async () => {
    await Promise.all([open?.stop(), locked?.stop()]);
  });

  it('reports an open ClickHouse with chat logs and API keys as critical, and changes nothing', async () => {
    const before = await checksum(open);
    const report = await scan({ targets: ['127.0.0.1'], ports: [18123, 19000], sample: 100, probes });
    assert.equal(await checksum(open), before);
    const http = report.findings.find((f) => f.probe === 'clickhouse-http');
    assert.ok(http, JSON.stringify(report.findings));
    assert.equal(http.id, 'clickhouse:127.0.0.1:18123');
    assert.equal(http.auth, 'none');
    assert.equal(http.severity, 'critical');
    assert.match(http.evidence.version ?? '', /^18\./);
    assert.ok(
      http.evidence.privileges?.some((p) => p.startsWith('readonly=')),
      JSON.stringify(http.evidence.privileges),
    );
    const table = http.evidence.databases?.find((d) => d.name === 'default')?.tables.find((t) => t.name === 'log_stream');
    assert.ok(table);
    assert.equal(table.rows, ROWS);
    assert.equal(table.sampledRows, ROWS);
    assert.equal(table.credentials?.total, KEYED_ROWS);
    assert.equal(table.credentials?.byRule['openai-project-key'], KEYED_ROWS);
    assert.deepEqual(table.conversationColumns, ['string.values']);
    assert.doesNotMatch(JSON.stringify(report), /T3BlbkFJ/, 'no secret in the report');
    const native = report.findings.find((f) => f.probe === 'clickhouse-native');
    assert.ok(native);
    assert.equal(native.auth, 'none');
    assert.equal(native.severity, 'high');
    assert.match(native.evidence.version ?? '', /^18\.16/);
  });

  it('--sample reads the newest rows first: a key written after a large older insert is found, and the report says which rows were read', async () => {
    const liveKey = () => ` Authorization: Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 77)}`;
    // Three tables: a time column, none (parts only), and a Log table with a time column.
    await open.query('CREATE TABLE default.live_by_time (ts DateTime, line String) ENGINE = MergeTree ORDER BY ts');
    await open.query('CREATE TABLE default.live_by_part (line String) ENGINE = MergeTree ORDER BY tuple()');
    await open.query('CREATE TABLE default.live_log (ts DateTime, line String) ENGINE = Log');
    // A merge would fold the newest part into an older one; without a time column nothing then tells new rows from old.
    await open.query('SYSTEM STOP MERGES default.live_by_part');
    const old = Array.from({ length: 2000 }, (_, i) => i);
    // Two older inserts, so the MergeTree tables keep parts the newest rows are not in, for the random share.
    for (const half of [old.slice(0, 1000), old.slice(1000)]) {
      await open.query(
        `INSERT INTO default.live_by_time FORMAT JSONEachRow\n${half.map((i) => JSON.stringify({ ts: 1736121600 + i, line: `request ${i} ok` })).join('\n')}`,
      );
      await open.query(`INSERT INTO default.live_by_part FORMAT JSONEachRow\n${half.map((i) => JSON.stringify({ line: `request ${i} ok` })).join('\n')}`);
    }
    await open.query(
      `INSERT INTO default.live_log FORMAT JSONEachRow\n${old.map((i) => JSON.stringify({ ts: 1736121600 + i, line: `request ${i} ok` })).join('\n')}`,
    );
    await open.query(`INSERT INTO default.live_by_time FORMAT JSONEachRow\n${JSON.stringify({ ts: 1736121600 + 5000, line: `request new${liveKey()}` })}`);
    await open.query(`INSERT INTO default.live_by_part FORMAT JSONEachRow\n${JSON.stringify({ line: `request new${liveKey()}` })}`);
    await open.query(`INSERT INTO default.live_log FORMAT JSONEachRow\n${JSON.stringify({ ts: 1736121600 + 5000, line: `request new${liveKey()}` })}`);
    try {
      const report = await scan({ targets: ['127.0.0.1:18123'], sample: 8, probes });
      const tables = report.findings[0]!.evidence.databases?.find((d) => d.name === 'default')?.tables ?? [];
      const byName = (name: string) => tables.find((t) => t.name === name)!;
      assert.equal(byName('live_by_time').credentials?.total, 1, 'the newest row of a table with a time column');
      assert.equal(byName('live_by_part').credentials?.total, 1, 'the newest part of a table without one');
      // 6 newest rows and a random share of up to 2 from the part they do not come from (a background merge of the time table may leave none).
      for (const [name, column] of [
        ['live_by_time', { column: 'ts' }],
        ['live_by_part', {}],
      ] as const) {
        const sample = byName(name).sample!;
        assert.deepEqual(
          { ...sample, rows: undefined, randomRows: undefined },
          { rows: undefined, order: 'newest-parts', ...column, randomRows: undefined },
          name,
        );
        assert.ok(sample.rows === 8 || sample.rows === 6 + (sample.randomRows ?? 0), JSON.stringify(sample));
        assert.equal(byName(name).sampledRows, sample.rows);
      }
      assert.ok((byName('live_by_part').sample!.randomRows ?? 0) >= 1, 'a random share from the older part');
      assert.equal(byName('live_log').credentials?.total, 1, 'a Log table by its time column');
      assert.deepEqual(byName('live_log').sample, { rows: 8, order: 'newest-by-column', column: 'ts' });
      assert.equal(byName('log_stream').sample?.order, 'newest-parts');
    } finally {
      await open.query('DROP TABLE default.live_by_time');
      await open.query('DROP TABLE default.live_by_part');
      await open.query('DROP TABLE default.live_log');
    }
  });

  it('without --sample, reports high with table and row count from metadata only', async () => {
    const report = await scan({ targets: ['127.0.0.1:18123'], probes });
    assert.equal(report.findings.length, 1);
    const [f] = report.findings;
    assert.equal(f!.severity, 'high');
    const table = f!.evidence.databases?.[0]?.tables.find((t) => t.name === 'log_stream');
    assert.equal(table?.rows, ROWS);
    assert.equal(table?.credentials, undefined);
  });

  it('reports a password-protected ClickHouse as requiring auth (info), over HTTP and native', async () => {
    const report = await scan({ targets: ['127.0.0.1'], ports: [28123, 29000], sample: 100, probes });
    assert.equal(report.findings.length, 2, JSON.stringify(report.findings));
    for (const f of report.findings) {
      assert.equal(f.auth, 'required', f.probe);
      assert.equal(f.severity, 'info');
      assert.equal(f.evidence.databases, undefined);
    }
  });

  it('finds ClickHouse on a non-default port by its answer', async () => {
    const report = await scan({ targets: ['127.0.0.1:18123'], probes: [clickhouseNative, clickhouseHttp] });
    assert.equal(report.findings[0]?.probe, 'clickhouse-http');
  });

  itScansHostilePeersAsUnknown('ClickHouse', probes);
});
