/**
 * PostgreSQL probe against real servers: the machine's PostgreSQL (trust auth on 127.0.0.1:5432) and a
 * throwaway cluster started here with scram-sha-256, so both open and locked states are real.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expandSample } from '../../detect/index.js';
import { itScansHostilePeersAsUnknown } from '../../../test/helpers/hostile-peers.js';
import { scan } from '../index.js';
import { postgresql } from './postgresql.js';

const DB = 'warden_scan_probe_test';
const LOCKED_PORT = 25432;

function pgBin(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort();
  return join('/usr/lib/postgresql', versions[versions.length - 1]!, 'bin', name);
}

/** initdb refuses root, so the throwaway cluster runs as the postgres system user. */
const asPostgres = (cmd: string, args: string[]) =>
  (process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]) as [string, string[]];

async function startLockedCluster(): Promise<{ child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'locked-test-password\n');
  chmodSync(pw, 0o644);
  execFileSync(...asPostgres(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pw}`]), { stdio: 'ignore' });
  const child = spawn(
    ...asPostgres(pgBin('postgres'), ['-D', data, '-p', String(LOCKED_PORT), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`]),
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !existsSync(join(dir, `.s.PGSQL.${LOCKED_PORT}`)); i++) await sleep(100);
  return { child, dir };
}

describe('PostgreSQL probe against real servers', { timeout: 90_000 }, () => {
  let locked: { child: ChildProcess; dir: string } | undefined;
  const admin = () => new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  const inDb = () => new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: DB });

  before(async () => {
    const a = admin();
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${DB}`);
    await a.query(`CREATE DATABASE ${DB}`);
    await a.end();
    const c = inDb();
    await c.connect();
    await c.query('CREATE TABLE chat_log (id int, prompt text, meta text)');
    for (let i = 0; i < 12; i++) {
      const meta = i < 4 ? `auth=Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 300 + i)}` : 'none';
      await c.query('INSERT INTO chat_log VALUES ($1, $2, $3)', [i, `what is ${i}+${i}?`, meta]);
    }
    await c.query('ANALYZE chat_log');
    // Appended logs: the oldest rows come first on disk, the newest (with a live key) last.
    await c.query('CREATE TABLE request_log (id bigserial PRIMARY KEY, at timestamptz NOT NULL, line text)');
    await c.query('CREATE INDEX request_log_at ON request_log (at)');
    await c.query("INSERT INTO request_log (at, line) SELECT now() - make_interval(secs => 10000 - g), 'GET /v1/models 200' FROM generate_series(1, 500) g");
    await c.query('INSERT INTO request_log (at, line) VALUES (now(), $1)', [
      `POST /v1/chat auth=Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 399)}`,
    ]);
    await c.query('CREATE TABLE by_key (id int PRIMARY KEY, line text)');
    await c.query("INSERT INTO by_key SELECT g, 'ok' FROM generate_series(1, 500) g");
    await c.query('INSERT INTO by_key VALUES (0, $1)', [`auth=Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 398)}`]);
    await c.query('ANALYZE');
    await c.end();
    locked = await startLockedCluster();
  });
  after(async () => {
    const a = admin();
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await a.end();
    if (locked) {
      // runuser does not forward signals to postgres, so stop the cluster through pg_ctl.
      execFileSync(...asPostgres(pgBin('pg_ctl'), ['-D', join(locked.dir, 'data'), '-m', 'immediate', 'stop']), { stdio: 'ignore' });
      rmSync(locked.dir, { recursive: true, force: true });
    }
  });

  it('reports trust auth with databases, row counts and credentials, and changes nothing', async () => {
    const snapshot = async () => {
      const c = inDb();
      await c.connect();
      const r = await c.query("SELECT md5(string_agg(id || prompt || meta, ',' ORDER BY id)) AS h, count(*) AS n FROM chat_log");
      await c.end();
      return r.rows[0];
    };
    const before = await snapshot();
    const report = await scan({ targets: ['127.0.0.1:5432'], sample: 20, probes: [postgresql] });
    assert.deepEqual(await snapshot(), before);
    const [f] = report.findings;
    assert.ok(f, JSON.stringify(report));
    assert.equal(f.auth, 'none');
    assert.equal(f.severity, 'critical');
    assert.equal(f.evidence.user, 'postgres');
    assert.ok(f.evidence.privileges?.includes('superuser'));
    const table = f.evidence.databases?.find((d) => d.name === DB)?.tables.find((t) => t.name === 'chat_log');
    assert.equal(table?.rows, 12, 'row estimate from pg_class after ANALYZE');
    assert.equal(table?.credentials?.byRule['openai-project-key'], 4);
    assert.deepEqual(table?.conversationColumns, ['prompt']);
    assert.doesNotMatch(JSON.stringify(report), /T3BlbkFJ/);
  });

  it('--sample reads the newest rows first, by an indexed timestamp, else the primary key, and says so', async () => {
    const report = await scan({ targets: ['127.0.0.1:5432'], sample: 3, probes: [postgresql] });
    const tables = report.findings[0]?.evidence.databases?.find((d) => d.name === DB)?.tables ?? [];
    const log = tables.find((t) => t.name === 'request_log');
    assert.equal(log?.credentials?.total, 1, 'the newest row holds the key');
    assert.deepEqual(log?.sample, { rows: 3, order: 'newest-by-column', column: 'at' });
    // The key sits at the smallest id: newest by key is the largest ids, so it is not read.
    const byKey = tables.find((t) => t.name === 'by_key');
    assert.deepEqual(byKey?.sample, { rows: 3, order: 'newest-by-column', column: 'id' });
    assert.equal(byKey?.credentials?.total, 0);
    assert.deepEqual(tables.find((t) => t.name === 'chat_log')?.sample, { rows: 3, order: 'first' }, 'no index: the store’s own order');
  });

  it('reports a scram-sha-256 cluster as auth required (info) without sending a password', async () => {
    const report = await scan({ targets: [`127.0.0.1:${LOCKED_PORT}`], probes: [postgresql] });
    assert.equal(report.findings[0]?.auth, 'required', JSON.stringify(report.findings));
    assert.equal(report.findings[0]?.severity, 'info');
  });

  itScansHostilePeersAsUnknown('PostgreSQL', [postgresql]);
});
