// Incident triage speed: MB/s and rows/s over a generated NDJSON dump and a ClickHouse table, and the time
// from a Warden key's appearance in an open ClickHouse to its revocation (scan → incident → triage → revoke).
// Usage:
//   npx tsx bench/incident.bench.ts [--dump-mb 200] [--rows 1000000]
// The issue's sizes are `--dump-mb 1024 --rows 10000000`.
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IncidentStore, respondToExposure, triage } from '../src/incident/index.js';
import { seedLogs } from '../src/incident/test-fixtures.js';
import { KeyStore, parseKeySecrets } from '../src/keys/index.js';
import { scan } from '../src/scan/index.js';
import { startTestClickHouse } from '../test/helpers/clickhouse.js';
import { machineLine } from './measure.js';

const { values } = parseArgs({ options: { 'dump-mb': { type: 'string', default: '200' }, rows: { type: 'string', default: '1000000' } } });
const DUMP_MB = Number(values['dump-mb']);
const CH_ROWS = Number(values.rows);
const FP_KEY = 'bench';
const dir = mkdtempSync(join(tmpdir(), 'warden-incident-bench-'));
const keys = await KeyStore.open({ store: join(dir, 'warden.db'), secrets: parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'bench', (s) => Buffer.from(s, 'base64')), notifications: false });
const incidents = await IncidentStore.open(keys.store);
const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => keys.create({ owner: `tenant-${i}`, name: 'bench', scopes: ['chat:write'] }).then((k) => k.key)));
const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`# incident benchmark\n${machineLine()}\n`);
console.log('| source | rows | MB | seconds | MB/s | rows/s | credentials found |');
console.log('|---|---|---|---|---|---|---|');

try {
  // A dump of AI-gateway log lines: one block of 1,000 generated rows (20 Warden keys, third-party keys,
  // chat content) repeated with fresh user ids until the size is reached.
  const dump = join(dir, 'dump.ndjson');
  const block = seedLogs(1000, 50, tokens).rows.map((r) => JSON.stringify(r));
  const out = createWriteStream(dump);
  let written = 0;
  let rows = 0;
  for (let rep = 0; written < DUMP_MB * 2 ** 20; rep++) {
    const text = block.map((l) => l.replace(/"user-(\d+)"/, `"user-${rep}-$1"`)).join('\n') + '\n';
    written += Buffer.byteLength(text);
    rows += block.length;
    if (!out.write(text)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const bytes = statSync(dump).size;
  const r = await triage(dump, { fingerprintKey: FP_KEY, keys });
  if (r.rows !== rows) throw new Error(`read ${r.rows} rows of ${rows}`);
  const s = r.durationMs / 1000;
  console.log(`| NDJSON dump | ${fmt(rows)} | ${fmt(bytes / 2 ** 20)} | ${fmt(s, 1)} | ${fmt(bytes / 2 ** 20 / s, 1)} | ${fmt(rows / s)} | ${fmt(r.credentials.distinct)} distinct, ${fmt(r.credentials.occurrences)} seen |`);
  rmSync(dump);

  const ch = await startTestClickHouse({ httpPort: 58124, tcpPort: 59001 });
  try {
    await ch.query('CREATE TABLE default.log_stream (timestamp DateTime, user_id String, tenant_id String, session_id String, model String, messages String) ENGINE = MergeTree ORDER BY timestamp');
    await ch.query(
      `INSERT INTO default.log_stream SELECT toDateTime(1736121600 + number), concat('user-', toString(number % 50000)), concat('tenant-', toString(number % 97)),
       concat('sess-', toString(number % 200000)), 'gpt-4o-mini',
       concat('[{"role":"user","content":"question ', toString(number), ': how do I reset my router when the lights blink amber?"},{"role":"assistant","content":"Hold the reset button for ten seconds."}]')
       FROM system.numbers LIMIT ${CH_ROWS}`,
    );
    const lines = seedLogs(100, 10, tokens).rows.map((row) => JSON.stringify({ ...row, timestamp: Math.floor(Date.parse(String(row.timestamp)) / 1000), messages: JSON.stringify(row.messages) }));
    await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${lines.join('\n')}`);
    const t = await triage('clickhouse://default@127.0.0.1:58124/default', { fingerprintKey: FP_KEY, keys, maxRowsPerTable: CH_ROWS + 100 });
    const cs = t.durationMs / 1000;
    console.log(`| ClickHouse table (HTTP, streamed) | ${fmt(t.rows)} | ${fmt(t.bytes / 2 ** 20)} | ${fmt(cs, 1)} | ${fmt(t.bytes / 2 ** 20 / cs, 1)} | ${fmt(t.rows / cs)} | ${fmt(t.credentials.distinct)} distinct, ${fmt(t.credentials.occurrences)} seen |`);

    // Time to revocation: a fresh key lands in a small open log table; the clock runs from its INSERT
    // to its revocation through scan (with sampling), incident, triage and revocation.
    await ch.query('CREATE TABLE default.fresh_logs (timestamp DateTime, user_id String, messages String) ENGINE = MergeTree ORDER BY timestamp');
    const fresh = await keys.create({ owner: 'victim', name: 'leaked', scopes: ['chat:write'] });
    const appeared = performance.now();
    await ch.query(`INSERT INTO default.fresh_logs FORMAT JSONEachRow\n${JSON.stringify({ timestamp: 1736121600, user_id: 'user-1', messages: `[{"role":"user","content":"my key is ${fresh.key}"}]` })}`);
    const report = await scan({ targets: ['127.0.0.1:58124'], sample: 100, probeIds: ['clickhouse-http'] });
    const finding = report.findings.find((f) => f.probe === 'clickhouse-http');
    if (!finding) throw new Error('no finding');
    const scanned = performance.now();
    const done = await respondToExposure(
      { ...finding, evidence: { ...finding.evidence, databases: finding.evidence.databases?.map((d) => ({ ...d, tables: d.tables.filter((x) => x.name === 'fresh_logs') })) } },
      { incidents, keys, fingerprintKey: FP_KEY, revokeWardenKeys: true },
    );
    const revoked = performance.now();
    if ((await keys.show(fresh.info.id)).status !== 'revoked') throw new Error(`not revoked: ${done.reason}`);
    console.log(`\nTime from a Warden key's INSERT into an open ClickHouse to its revocation: ${fmt(revoked - appeared)} ms (scan with sampling ${fmt(scanned - appeared)} ms; incident, triage of the flagged table and revocation ${fmt(revoked - scanned)} ms).`);
  } finally {
    await ch.stop();
  }
} finally {
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
}
