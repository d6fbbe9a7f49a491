/**
 * MySQL/MariaDB probe against real servers: the machine's MariaDB (root without a password on
 * 127.0.0.1:3306) and a throwaway mariadbd started here whose accounts all have passwords.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { expandSample } from '../../detect/index.js';
import { itScansHostilePeersAsUnknown } from '../../../test/helpers/hostile-peers.js';
import { scan } from '../index.js';
import { mysqlProbe } from './mysql.js';

const DB = 'warden_scan_probe_test';
const LOCKED_PORT = 23306;

async function startLockedMariaDb(): Promise<{ child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-my-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--user=root', '--skip-test-db', '--auth-root-authentication-method=normal'], {
    stdio: 'ignore',
  });
  const child = spawn(
    'mariadbd',
    ['--no-defaults', `--datadir=${data}`, `--port=${LOCKED_PORT}`, '--bind-address=127.0.0.1', `--socket=${socket}`, '--user=root', '--skip-log-bin'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !existsSync(socket); i++) await sleep(100);
  const admin = await mysql.createConnection({ socketPath: socket, user: 'root', multipleStatements: true });
  const users = (await admin.query("SELECT User AS user, Host AS host FROM mysql.user WHERE User <> 'mariadb.sys'"))[0] as Array<{
    user: string;
    host: string;
  }>;
  for (const u of users) {
    if (u.user === 'root') await admin.query(`ALTER USER 'root'@${admin.escape(u.host)} IDENTIFIED BY 'locked-test-password'`);
    else await admin.query(`DROP USER ${admin.escape(u.user)}@${admin.escape(u.host)}`);
  }
  await admin.end();
  return { child, dir };
}

describe('MySQL/MariaDB probe against real servers', { timeout: 90_000 }, () => {
  let locked: { child: ChildProcess; dir: string } | undefined;
  const admin = () => mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });

  before(async () => {
    const c = await admin();
    await c.query(`DROP DATABASE IF EXISTS ${DB}`);
    await c.query(`CREATE DATABASE ${DB}`);
    await c.query(`CREATE TABLE ${DB}.conversations (id INT PRIMARY KEY, message TEXT, headers TEXT)`);
    for (let i = 0; i < 9; i++) {
      const headers = i < 5 ? `Authorization: Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 700 + i)}` : '';
      await c.query(`INSERT INTO ${DB}.conversations VALUES (?, ?, ?)`, [i, `hello ${i}`, headers]);
    }
    await c.query(`ANALYZE TABLE ${DB}.conversations`);
    // Appended logs: the oldest rows come first, the newest (with a live key) last.
    await c.query(`CREATE TABLE ${DB}.request_log (id INT PRIMARY KEY, logged_at DATETIME NOT NULL, line TEXT, KEY (logged_at))`);
    const old = Array.from({ length: 300 }, (_, i) => [i + 1, new Date(Date.UTC(2025, 0, 1, 0, 0, i)), 'GET /v1/models 200']);
    await c.query(`INSERT INTO ${DB}.request_log VALUES ?`, [old]);
    // The newest row by time has the smallest id: a primary-key order would miss it.
    await c.query(`INSERT INTO ${DB}.request_log VALUES (0, '2025-06-01 00:00:00', ?)`, [
      `auth=Bearer ${expandSample('sk-proj-{alnum_-:74}T3BlbkFJ{alnum_-:74}', 799)}`,
    ]);
    await c.end();
    locked = await startLockedMariaDb();
  });
  after(async () => {
    const c = await admin();
    await c.query(`DROP DATABASE IF EXISTS ${DB}`);
    await c.end();
    locked?.child.kill('SIGKILL');
    if (locked) rmSync(locked.dir, { recursive: true, force: true });
  });

  it('reports root without a password, with grants, tables, rows and credentials, and changes nothing', async () => {
    const checksum = async () => {
      const c = await admin();
      const [r] = await c.query(`CHECKSUM TABLE ${DB}.conversations`);
      await c.end();
      return r;
    };
    const before = await checksum();
    const report = await scan({ targets: ['127.0.0.1:3306'], sample: 20, probes: [mysqlProbe] });
    assert.deepEqual(await checksum(), before);
    const [f] = report.findings;
    assert.ok(f, JSON.stringify(report));
    assert.equal(f.id, 'mysql:127.0.0.1:3306');
    assert.equal(f.auth, 'none');
    assert.equal(f.severity, 'critical');
    assert.match(f.evidence.user ?? '', /^root@/);
    assert.ok(
      f.evidence.privileges?.some((g) => /GRANT ALL PRIVILEGES/.test(g)),
      JSON.stringify(f.evidence.privileges),
    );
    const table = f.evidence.databases?.find((d) => d.name === DB)?.tables.find((t) => t.name === 'conversations');
    assert.equal(table?.rows, 9);
    assert.equal(table?.credentials?.byRule['openai-project-key'], 5);
    assert.deepEqual(table?.conversationColumns, ['message']);
    assert.doesNotMatch(JSON.stringify(report), /T3BlbkFJ/);
  });

  it('--sample reads the newest rows first, by an indexed datetime, and says so', async () => {
    const report = await scan({ targets: ['127.0.0.1:3306'], sample: 3, probes: [mysqlProbe] });
    const tables = report.findings[0]?.evidence.databases?.find((d) => d.name === DB)?.tables ?? [];
    const log = tables.find((t) => t.name === 'request_log');
    assert.equal(log?.credentials?.total, 1, 'the newest row holds the key');
    assert.deepEqual(log?.sample, { rows: 3, order: 'newest-by-column', column: 'logged_at' });
    assert.deepEqual(tables.find((t) => t.name === 'conversations')?.sample, { rows: 3, order: 'newest-by-column', column: 'id' });
  });

  it('reports a server whose accounts all have passwords as auth required (info)', async () => {
    const report = await scan({ targets: [`127.0.0.1:${LOCKED_PORT}`], probes: [mysqlProbe] });
    assert.equal(report.findings[0]?.auth, 'required', JSON.stringify(report.findings));
    assert.equal(report.findings[0]?.severity, 'info');
    assert.match(report.findings[0]?.evidence.version ?? '', /MariaDB/);
  });

  itScansHostilePeersAsUnknown('MySQL', [mysqlProbe]);
});
