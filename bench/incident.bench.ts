// Incident triage speed: MB/s and rows/s over a generated NDJSON dump and a ClickHouse table, and the time
// from a Warden key's appearance in an open ClickHouse to its revocation (scan → incident → triage → revoke),
// and, with `warden serve` on its schedule, from a key written into a store that is already an open incident to
// its revocation by the run's incremental re-triage (target: within 60 s at a 30 s interval).
// Usage:
//   npx tsx bench/incident.bench.ts [--dump-mb 200] [--rows 1000000] [--every 30s]
// The issue's sizes are `--dump-mb 1024 --rows 10000000`.
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../src/config/index.js';
import { IncidentStore, respondToExposure, triage } from '../src/incident/index.js';
import { seedLogs } from '../src/incident/test-fixtures.js';
import { KeyStore, parseKeySecrets } from '../src/keys/index.js';
import { scan } from '../src/scan/index.js';
import { startServe } from '../src/serve/index.js';
import { parseDuration } from '../src/duration.js';
import { startTestClickHouse } from '../test/helpers/clickhouse.js';
import { machineLine } from './measure.js';

const { values } = parseArgs({
  options: { 'dump-mb': { type: 'string', default: '200' }, rows: { type: 'string', default: '1000000' }, every: { type: 'string', default: '30s' } },
});
const DUMP_MB = Number(values['dump-mb']);
const CH_ROWS = Number(values.rows);
const FP_KEY = 'bench';
const dir = mkdtempSync(join(tmpdir(), 'warden-incident-bench-'));
const secrets = parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'bench', (s) => Buffer.from(s, 'base64'));
const keys = await KeyStore.open({ store: join(dir, 'warden.db'), secrets, notifications: false });
const incidents = await IncidentStore.open(keys.store);
const tokens = await Promise.all(
  Array.from({ length: 20 }, (_, i) => keys.create({ owner: `tenant-${i}`, name: 'bench', scopes: ['chat:write'] }).then((k) => k.key)),
);
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
  console.log(
    `| NDJSON dump | ${fmt(rows)} | ${fmt(bytes / 2 ** 20)} | ${fmt(s, 1)} | ${fmt(bytes / 2 ** 20 / s, 1)} | ${fmt(rows / s)} | ${fmt(r.credentials.distinct)} distinct, ${fmt(r.credentials.occurrences)} seen |`,
  );
  rmSync(dump);

  const ch = await startTestClickHouse({ httpPort: 58124, tcpPort: 59001 });
  try {
    await ch.query(
      'CREATE TABLE default.log_stream (timestamp DateTime, user_id String, tenant_id String, session_id String, model String, messages String) ENGINE = MergeTree ORDER BY timestamp',
    );
    await ch.query(
      `INSERT INTO default.log_stream SELECT toDateTime(1736121600 + number), concat('user-', toString(number % 50000)), concat('tenant-', toString(number % 97)),
       concat('sess-', toString(number % 200000)), 'gpt-4o-mini',
       concat('[{"role":"user","content":"question ', toString(number), ': how do I reset my router when the lights blink amber?"},{"role":"assistant","content":"Hold the reset button for ten seconds."}]')
       FROM system.numbers LIMIT ${CH_ROWS}`,
    );
    const lines = seedLogs(100, 10, tokens).rows.map((row) =>
      JSON.stringify({ ...row, timestamp: Math.floor(Date.parse(String(row.timestamp)) / 1000), messages: JSON.stringify(row.messages) }),
    );
    await ch.query(`INSERT INTO default.log_stream FORMAT JSONEachRow\n${lines.join('\n')}`);
    const t = await triage('clickhouse://default@127.0.0.1:58124/default', { fingerprintKey: FP_KEY, keys, maxRowsPerTable: CH_ROWS + 100 });
    const cs = t.durationMs / 1000;
    console.log(
      `| ClickHouse table (HTTP, streamed) | ${fmt(t.rows)} | ${fmt(t.bytes / 2 ** 20)} | ${fmt(cs, 1)} | ${fmt(t.bytes / 2 ** 20 / cs, 1)} | ${fmt(t.rows / cs)} | ${fmt(t.credentials.distinct)} distinct, ${fmt(t.credentials.occurrences)} seen |`,
    );

    // Time to revocation: a fresh key lands in a small open log table; the clock runs from its INSERT
    // to its revocation through scan (with sampling), incident, triage and revocation.
    await ch.query('CREATE TABLE default.fresh_logs (timestamp DateTime, user_id String, messages String) ENGINE = MergeTree ORDER BY timestamp');
    const fresh = await keys.create({ owner: 'victim', name: 'leaked', scopes: ['chat:write'] });
    const appeared = performance.now();
    await ch.query(
      `INSERT INTO default.fresh_logs FORMAT JSONEachRow\n${JSON.stringify({ timestamp: 1736121600, user_id: 'user-1', messages: `[{"role":"user","content":"my key is ${fresh.key}"}]` })}`,
    );
    const report = await scan({ targets: ['127.0.0.1:58124'], sample: 100, probeIds: ['clickhouse-http'] });
    const finding = report.findings.find((f) => f.probe === 'clickhouse-http');
    if (!finding) throw new Error('no finding');
    const scanned = performance.now();
    const done = await respondToExposure(
      {
        ...finding,
        evidence: {
          ...finding.evidence,
          databases: finding.evidence.databases?.map((d) => ({ ...d, tables: d.tables.filter((x) => x.name === 'fresh_logs') })),
        },
      },
      { incidents, keys, fingerprintKey: FP_KEY, revokeWardenKeys: true },
    );
    const revoked = performance.now();
    if ((await keys.show(fresh.info.id)).status !== 'revoked') throw new Error(`not revoked: ${done.reason}`);
    console.log(
      `\nTime from a Warden key's INSERT into an open ClickHouse to its revocation: ${fmt(revoked - appeared)} ms (scan with sampling ${fmt(scanned - appeared)} ms; incident, triage of the flagged table and revocation ${fmt(revoked - scanned)} ms).`,
    );
  } finally {
    await ch.stop();
  }

  // The loop kept closed: `warden serve` scans an open ClickHouse on its schedule; the first run opens the
  // incident, later runs re-triage it. A key written into the store after that is revoked by the next run.
  const live = await startTestClickHouse({ httpPort: 58125, tcpPort: 59002 });
  let daemon: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    await live.query('CREATE TABLE default.live_logs (timestamp DateTime, user_id String, messages String) ENGINE = MergeTree ORDER BY timestamp');
    await live.query(
      `INSERT INTO default.live_logs SELECT toDateTime(1736121600 + number), concat('user-', toString(number % 5000)),
       concat('[{"role":"user","content":"question ', toString(number), ': how do I reset my router?"}]') FROM system.numbers LIMIT 100000`,
    );
    const first = await keys.create({ owner: 'victim', name: 'first-alert', scopes: ['chat:write'] });
    const row = (key: string) =>
      JSON.stringify({ timestamp: Math.floor(Date.now() / 1000), user_id: 'user-live', messages: `[{"role":"user","content":"my key is ${key}"}]` });
    await live.query(`INSERT INTO default.live_logs FORMAT JSONEachRow\n${row(first.key)}`);
    const config = parseConfig(
      `version: 1\ninventories:\n  - {name: live, targets: ["127.0.0.1:58125"], every: 10s, jitter: 0s, sample: 100, timeout: 2s}\nincidents: {open: true, revokeWardenKeys: true}\n`,
      join(dir, 'warden.yaml'),
      {},
    );
    // The schedule takes any interval; the file's own minimum is 10 s.
    const everyMs = parseDuration(values.every, '--every');
    config.inventories[0]!.schedule = { kind: 'interval', everyMs };
    const logs: string[] = [];
    daemon = await startServe({
      config,
      store: keys.store,
      secrets,
      fingerprintKey: FP_KEY,
      announceKey: () => undefined,
      log: (l) => logs.push(l),
      listen: { host: '127.0.0.1', port: 0 },
    });
    const until = async (what: string, done: () => Promise<boolean>, ms: number) => {
      const start = performance.now();
      while (!(await done())) {
        if (performance.now() - start > ms) throw new Error(`${what} not within ${ms} ms:\n${logs.join('\n')}`);
        await sleep(100);
      }
      return performance.now() - start;
    };
    await until('the first alert’s revocation', async () => (await keys.show(first.info.id)).status === 'revoked', 2 * everyMs + 60_000);
    const late = await keys.create({ owner: 'victim', name: 'written-after-the-alert', scopes: ['chat:write'] });
    const never = await keys.create({ owner: 'victim', name: 'never-written', scopes: ['chat:write'] });
    await live.query(`INSERT INTO default.live_logs FORMAT JSONEachRow\n${row(late.key)}`);
    const took = await until('the late key’s revocation', async () => (await keys.show(late.info.id)).status === 'revoked', 2 * everyMs + 60_000);
    if ((await keys.show(never.info.id)).status !== 'active') throw new Error('a key that never appeared was revoked');
    const retriaged = logs.filter((l) => / re-triaged for /.test(l)).at(-1) ?? '';
    console.log(
      `\nA Warden key written into a store that is already an open incident (100,000 rows), \`warden serve\` every ${fmt(everyMs / 1000)} s: revoked ${fmt(took / 1000, 1)} s after its INSERT (target: within 60 s at 30 s); a key never written stayed active. The run: ${retriaged.replace(/^run \S+: incident \S+ /, '')}`,
    );
  } finally {
    await daemon?.close();
    await live.stop();
  }
} finally {
  await keys.close();
  rmSync(dir, { recursive: true, force: true });
}
