import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../../test/helpers/cli.js';
import { aiChatRow, createAiChatTable, insertAiChatRows } from '../../../test/fixtures/ai-chat.js';
import { openDatabase, type Database } from '../../db/index.js';
import { createScratchDatabase, scratchSqlite, type ScratchDatabase } from '../../../test/helpers/scratch-databases.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DAY = 86_400_000;
const env = { WARDEN_FINGERPRINT_KEY: 'cli-test' };
/** 20 rows 0, 5, 10 … 95 days old: 14 are past a 30-day window. */
const ROWS = 20;
const PAST_WINDOW = 14;

/** util-linux `script` gives the CLI a real pseudo-terminal (node-pty is not a dependency). */
const hasScript = (() => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the CLI on a pseudo-terminal and answers its question with `answer` once it is asked. */
function runOnTerminal(args: string[], answer: string): Promise<{ code: number | null; output: string }> {
  const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
  const command = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let asked = false;
  const onData = (c: Buffer) => {
    output += c.toString();
    if (!asked && output.includes('Go ahead? [y/N]')) {
      asked = true;
      child.stdin.write(`${answer}\n`);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

async function seed(db: Database, schema: string): Promise<void> {
  await createAiChatTable(db, { schema, name: 'chat_logs' });
  const now = Date.now();
  await insertAiChatRows(
    db,
    { schema, name: 'chat_logs' },
    Array.from({ length: ROWS }, (_, i) => aiChatRow(i + 1, new Date(now - i * 5 * DAY - 60_000))),
  );
}

async function count(url: string, schema: string): Promise<number> {
  const db = await openDatabase(url);
  try {
    const [row] = await db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${db.qualified({ schema, name: 'chat_logs' })}`);
    return Number(row?.n);
  } finally {
    await db.close();
  }
}

describe('warden retention apply (CLI)', () => {
  let dir: string;
  let store: ScratchDatabase;
  let policy: string;
  const apply = (...extra: string[]) => ['retention', 'apply', store.url, '--policy', policy, '--audit-log', join(dir, 'audit.jsonl'), ...extra];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'warden-retention-cli-'));
    policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'version: 1\ntables:\n  - table: chat_logs\n    window: 30d\n');
  });
  after(async () => {
    await store?.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const fresh = async () => {
    await store?.drop();
    store = scratchSqlite();
    const db = await openDatabase(store.url);
    await seed(db, 'main');
    await db.close();
  };

  it('off a terminal, refuses without --yes (exit 2) and deletes nothing', async () => {
    await fresh();
    const res = await runCli(apply('--format', 'json'), { env });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /stdin is not a terminal to confirm on: pass --yes/);
    assert.equal(res.stdout, '');
    assert.equal(await count(store.url, 'main'), ROWS);
    const dry = await runCli(apply('--dry-run', '--format', 'json'), { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(JSON.parse(dry.stdout).plans[0].tables[0].pastWindow, PAST_WINDOW);
  });

  it('with --yes deletes what the plan showed, without asking', async () => {
    await fresh();
    const res = await runCli(apply('--format', 'json', '--yes'), { env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).runs[0].results[0].outcome.rowsDeleted, PAST_WINDOW);
    assert.equal(await count(store.url, 'main'), ROWS - PAST_WINDOW);
  });

  it(
    'on a terminal, shows rows per table and asks: no keeps everything (exit 1), yes deletes',
    { skip: !hasScript && 'util-linux script is not installed' },
    async () => {
      await fresh();
      const no = await runOnTerminal(apply('--format', 'table'), 'n');
      assert.equal(no.code, 1, no.output);
      assert.match(no.output, /main\.chat_logs\s+30d\s+created_at\s+\S+\s+20\s+14\s/);
      assert.match(no.output, /This will delete 14 row\(s\) past their window in 1 table\(s\)\. Go ahead\? \[y\/N\]/);
      assert.match(no.output, /not confirmed; nothing was deleted/);
      assert.equal(await count(store.url, 'main'), ROWS);
      const yes = await runOnTerminal(apply('--format', 'table'), 'y');
      assert.equal(yes.code, 0, yes.output);
      assert.match(yes.output, /main\.chat_logs\s+done\s+14\s/);
      assert.equal(await count(store.url, 'main'), ROWS - PAST_WINDOW);
    },
  );

  it('PostgreSQL: a hold on a misspelt table is an error naming the nearest table (exit 2); nothing is deleted', async () => {
    const pg = await createScratchDatabase();
    const db = await openDatabase(pg.url);
    try {
      await seed(db, 'public');
      const held = join(dir, 'held.yaml');
      const until = new Date(Date.now() + 30 * DAY).toISOString().slice(0, 10);
      writeFileSync(
        held,
        `version: 1\ncategories:\n  chat-transcript: 30d\nlegalHolds:\n  - table: public.chat_log\n    reason: regulator inquiry\n    expires: ${until}\n`,
      );
      const res = await runCli(
        ['retention', 'apply', pg.url, '--policy', held, '--yes', '--format', 'json', '--audit-log', join(dir, 'pg-audit.jsonl'), '--allow-zero-window'],
        { env },
      );
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, /legalHolds\.0\.table: no table "public\.chat_log"; nearest: public\.chat_logs/);
      assert.equal(await count(pg.url, 'public'), ROWS);
      assert.throws(() => readFileSync(join(dir, 'pg-audit.jsonl')), /ENOENT/, 'no audit record: nothing started');
    } finally {
      await db.close();
      await pg.drop();
    }
  });
});
