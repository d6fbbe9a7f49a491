// Retention and classification speed on real engines: rows deleted per second on PostgreSQL (batched)
// and ClickHouse (partition drop, and a mutation on an unpartitioned table), the longest batch, and
// classify time per 1,000 columns. Usage:
//   npx tsx bench/retention.bench.ts [--rows 1000000] [--batch-size 5000] [--columns 1000]
// The issue's 10 million rows is `--rows 10000000` (needs ~6 GB free disk across both engines).
import { parseArgs } from 'node:util';
import { aiChatRow, createAiChatTable } from '../test/fixtures/ai-chat.js';
import { classifyStore } from '../src/classify/index.js';
import { openDatabase, type Database } from '../src/db/index.js';
import { createScratchDatabase, scratchClickHouse } from '../test/helpers/scratch-databases.js';
import { startTestClickHouse } from '../test/helpers/clickhouse.js';
import { getDefaultDetector } from '../src/detect/index.js';
import { applyRetention, parsePolicy, planRetention } from '../src/retention/index.js';
import { machineLine } from './measure.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '1000000' }, 'batch-size': { type: 'string', default: '5000' }, columns: { type: 'string', default: '1000' } },
});
const ROWS = Number(values.rows);
const BATCH = Number(values['batch-size']);
const COLUMNS = Number(values.columns);
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const classify = { detector: getDefaultDetector(), fingerprintKey: 'bench', sampleSize: 100 };
const policy = parsePolicy('version: 1\ntables:\n  - table: chat_logs\n    window: 30d\n', 'bench');
const rate = (rows: number, ms: number) => Math.round(rows / (ms / 1000)).toLocaleString('en-US');

async function retentionRun(db: Database) {
  const plan = await planRetention(db, policy, { now: NOW, classify });
  const started = performance.now();
  const [result] = (await applyRetention(db, plan, { batchSize: BATCH, pauseMs: 0, maxLockMs: 5000, mutationTimeoutMs: 3_600_000 })).results;
  const ms = performance.now() - started;
  if (!result?.verification?.ok) throw new Error(`verification failed: ${JSON.stringify(result)}`);
  return { deleted: result.outcome.rowsDeleted, ms, longest: result.outcome.longestBatchMs, batches: result.outcome.batches };
}

console.log(
  `# retention benchmark\n${machineLine()}\nrows seeded per table: ${ROWS.toLocaleString('en-US')}, 60 days of rows, 30-day window (about half deleted)\n`,
);
console.log('| engine | method | rows deleted | seconds | rows/s | batches | longest batch/lock ms |');
console.log('|---|---|---|---|---|---|---|');

{
  const store = await createScratchDatabase();
  const db = await openDatabase(store.url);
  try {
    await createAiChatTable(db, { schema: 'public', name: 'chat_logs' });
    await db.execute(
      `INSERT INTO chat_logs (id, created_at, tenant_id, model, prompt_tokens, messages)
       SELECT g, now() - (g % 60) * interval '1 day' - (g % 86400) * interval '1 second', 'tenant-' || (g % 7), 'gpt-4o-mini', g % 500,
              '[{"role":"user","content":"benchmark question"}]'::jsonb
       FROM generate_series(1, ?::int) g`,
      [ROWS],
    );
    await db.execute('ANALYZE chat_logs');
    const r = await retentionRun(db);
    console.log(
      `| PostgreSQL 15 | batched by primary key, ${BATCH}/batch | ${r.deleted} | ${(r.ms / 1000).toFixed(1)} | ${rate(r.deleted, r.ms)} | ${r.batches} | ${r.longest} |`,
    );
  } finally {
    await db.close();
    await store.drop();
  }
}

const server = await startTestClickHouse({ httpPort: 38125, tcpPort: 39002 });
try {
  for (const partitionBy of ['toYYYYMMDD(created_at)', '']) {
    const store = await scratchClickHouse(server);
    const db = await openDatabase(store.url);
    try {
      const schema = new URL(store.url).pathname.slice(1);
      await createAiChatTable(db, { schema, name: 'chat_logs' }, { partitionBy });
      await db.execute(
        `INSERT INTO ${schema}.chat_logs (id, created_at, tenant_id, model, prompt_tokens, messages)
         SELECT number, toDateTime(${Math.floor(NOW.getTime() / 1000)} - (number % 60) * 86400 - (number % 86400)), concat('tenant-', toString(number % 7)), 'gpt-4o-mini', number % 500,
                '[{"role":"user","content":"benchmark question"}]'
         FROM numbers(${ROWS})`,
      );
      const r = await retentionRun(db);
      console.log(
        `| ClickHouse 18.16 | ${partitionBy ? 'drop partitions (+ mutation for the boundary day)' : 'ALTER TABLE … DELETE mutation'} | ${r.deleted} | ${(r.ms / 1000).toFixed(1)} | ${rate(r.deleted, r.ms)} | ${r.batches} | ${r.longest} |`,
      );
    } finally {
      await db.close();
      await store.drop();
    }
  }
} finally {
  await server.stop();
}

{
  const store = await createScratchDatabase();
  const db = await openDatabase(store.url);
  try {
    // Wide tables of 100 columns each, every column a copy of one fixture column, 200 rows.
    const fixtureColumns = [
      'messages',
      'response',
      'tool_calls',
      'request_headers',
      'user_email',
      'client_ip',
      'customer_name',
      'model',
      'feedback',
      'card_number',
    ] as const;
    const tables = Math.ceil(COLUMNS / 100);
    const rows = Array.from({ length: 200 }, (_, i) => aiChatRow(i + 1, NOW));
    for (let t = 0; t < tables; t++) {
      const cols = Array.from({ length: 100 }, (_, c) => `${fixtureColumns[c % fixtureColumns.length]}_${c}`);
      await db.execute(`CREATE TABLE wide_${t} (${cols.map((c) => `${c} text`).join(', ')})`);
      for (let i = 0; i < rows.length; i += 50) {
        const part = rows.slice(i, i + 50);
        await db.execute(
          `INSERT INTO wide_${t} VALUES ${part.map(() => `(${cols.map(() => '?').join(', ')})`).join(', ')}`,
          part.flatMap((r) => cols.map((_, c) => String(r[fixtureColumns[c % fixtureColumns.length]!]))),
        );
      }
    }
    await db.execute('ANALYZE');
    const started = performance.now();
    const report = await classifyStore(db, classify);
    const ms = performance.now() - started;
    const columns = report.tables.reduce((n, t) => n + t.columns.length, 0);
    console.log(
      `\n| classify | columns | values sampled per column | seconds | ms per 1,000 columns |\n|---|---|---|---|---|\n| PostgreSQL 15 | ${columns} | 100 | ${(ms / 1000).toFixed(1)} | ${Math.round((ms / columns) * 1000)} |`,
    );
  } finally {
    await db.close();
    await store.drop();
  }
}
