// `warden incident` end to end: the real CLI in child processes against a SQLite file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../../test/helpers/cli.js';
import { freePort } from '../../../test/helpers/free-port.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-cli-incident-'));
const store = join(dir, 'warden.db');
const env = {
  HOME: dir,
  XDG_CONFIG_HOME: join(dir, 'config'),
  XDG_DATA_HOME: join(dir, 'data'),
  WARDEN_STORE: '',
  WARDEN_KEY_SECRET: '1:incident-cli-test-0123456789abcdef',
};

describe('warden incident (CLI)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists incidents under a header row', async () => {
    const opened = await runCli(['incident', 'open', '--kind', 'leaked-api-key', '--title', 'key in a paste', '--json', '--store', store], { env });
    assert.equal(opened.code, 0, opened.stderr);
    const { id } = JSON.parse(opened.stdout) as { id: string };
    const list = await runCli(['incident', 'list', '--store', store], { env });
    assert.equal(list.code, 0, list.stderr);
    const [header, row] = list.stdout.split('\n');
    assert.match(header!, /^ID +STATUS +SEVERITY +KIND +TITLE$/);
    assert.match(row!, new RegExp(`^${id} +open +\\w+ +leaked-api-key +key in a paste$`));
  });

  it('prints times in JSON as ISO 8601, never epoch numbers', async () => {
    const opened = await runCli(['incident', 'open', '--kind', 'leaked-api-key', '--detected', '2025-01-29T09:30:00Z', '--json', '--store', store], { env });
    assert.equal((JSON.parse(opened.stdout) as { detectedAt: string }).detectedAt, '2025-01-29T09:30:00.000Z');
    const { id } = JSON.parse(opened.stdout) as { id: string };
    for (const args of [
      ['incident', 'list'],
      ['incident', 'status', id],
    ]) {
      const r = await runCli([...args, '--json', '--store', store], { env });
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      assert.doesNotMatch(r.stdout, /"(?:at|\w+At)": \d/, args.join(' '));
    }
    const status = JSON.parse((await runCli(['incident', 'status', id, '--json', '--store', store], { env })).stdout) as {
      deadlines: Array<{ dueAt: string }>;
    };
    assert.match(status.deadlines[0]!.dueAt, /^2025-0\d-\d\dT/);
  });

  it('shows how long is left in days and hours, not hundreds of hours', async () => {
    const aware = new Date(Date.now() - 160 * 3_600_000).toISOString();
    const opened = await runCli(
      [
        'incident',
        'open',
        '--kind',
        'leaked-api-key',
        '--aware',
        aware,
        '--detected',
        aware,
        '--deadline',
        'long-duty:A long duty:40d',
        '--json',
        '--store',
        store,
      ],
      { env },
    );
    const { id } = JSON.parse(opened.stdout) as { id: string };
    const status = await runCli(['incident', 'status', id, '--store', store], { env });
    assert.equal(status.code, 1, 'GDPR’s 72 hours are past');
    assert.match(status.stdout, /due +\S+ \(33 d 8 h left\) +A long duty/);
    assert.match(status.stdout, /overdue +\S+ \(3 d 16 h overdue\) +GDPR/);
  });

  const openIncident = async () =>
    (JSON.parse((await runCli(['incident', 'open', '--kind', 'exposed-log-store', '--json', '--store', store], { env })).stdout) as { id: string }).id;
  const reportOf = async (id: string) => (await runCli(['incident', 'report', id, '--format', 'markdown', '--store', store], { env })).stdout;
  const dump = join(dir, 'dump', 'logs.ndjson');
  mkdirSync(join(dir, 'dump'));
  writeFileSync(dump, Array.from({ length: 30 }, (_, i) => JSON.stringify({ user_id: `user-${i % 5}`, message: `hello ${i}` })).join('\n') + '\n');

  it('triage of the same dump twice counts it once; the timeline keeps both', async () => {
    const id = await openIncident();
    for (const spelt of [dump, `${join(dir, 'dump')}/./logs.ndjson`]) {
      const r = await runCli(['incident', 'triage', id, spelt, '--store', store], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    const md = await reportOf(id);
    assert.match(md, /^\| Rows exposed \(triaged\) \| 30 \|$/m);
    assert.match(md, /^\| Affected users \/ tenants \/ sessions \| 5 \/ 0 \/ 0 \|$/m);
    assert.equal(md.match(/^## Exposure scope/gm)?.length, 1);
    assert.equal(md.match(/\| Triaged \//g)?.length, 2, 'both triages on the timeline');
  });

  it('--threads 1 triages on the main thread alone; 0 is refused before anything is read', async () => {
    const id = await openIncident();
    const one = await runCli(['incident', 'triage', id, dump, '--threads', '1', '--json', '--store', store], { env });
    assert.equal(one.code, 0, one.stderr);
    assert.equal((JSON.parse(one.stdout) as { rows: number }).rows, 30);
    const zero = await runCli(['incident', 'triage', id, dump, '--threads', '0', '--store', store], { env });
    assert.equal(zero.code, 2);
    assert.match(zero.stderr, /--threads: expected a whole number from 1 to 256, got "0"/);
  });

  it('a path that does not exist exits 2, says why in words, and changes no total', async () => {
    const id = await openIncident();
    await runCli(['incident', 'triage', id, dump, '--store', store], { env });
    const r = await runCli(['incident', 'triage', id, '/nonexistent', '--store', store], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^warden: triage of \/nonexistent failed: no such file or folder \(recorded; no total changed\)\n$/);
    const md = await reportOf(id);
    assert.match(md, /^\| Rows exposed \(triaged\) \| 30 \|$/m);
    assert.match(md, /Triage of \/nonexistent failed \(bad input\): no such file or folder/);
    assert.doesNotMatch(md, /ENOENT|: 0 rows/);
  });

  it('a connection string with a password exits 2 and repeats none of it', async () => {
    const id = await openIncident();
    const r = await runCli(['incident', 'triage', id, 'postgres://app:hunter2@127.0.0.1:5432/logs', '--store', store], { env });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /refusing a password inside the connection string/);
    assert.ok(!(r.stderr + r.stdout + (await reportOf(id))).includes('hunter2'));
  });

  it('an unreachable store exits 3 and is recorded as a failed run, without the raw system error', async () => {
    const port = await freePort();
    const id = await openIncident();
    for (const source of [`postgres://127.0.0.1:${port}/x`, `redis://127.0.0.1:${port}`]) {
      const r = await runCli(['incident', 'triage', id, source, '--json', '--store', store], { env });
      assert.equal(r.code, 3, `${source}: ${r.stderr}`);
      assert.equal((JSON.parse(r.stdout) as { status: string }).status, 'failed');
      assert.match(r.stderr, /connection refused \(nothing listens there\) \(recorded; no total changed\)/);
      assert.doesNotMatch(r.stderr, /ECONNREFUSED/);
    }
    const md = await reportOf(id);
    assert.match(md, /^\| Sources triaged \| 0; 2 failed attempt\(s\) on the timeline, not counted \|$/m);
    assert.match(md, /^\| Rows exposed \(triaged\) \| 0 \|$/m);
  });

  it('a folder read in part exits 3 and counts what was read', async () => {
    const id = await openIncident();
    mkdirSync(join(dir, 'mixed'));
    writeFileSync(join(dir, 'mixed', 'a.ndjson'), `${JSON.stringify({ user_id: 'u1', message: 'hi' })}\n`);
    writeFileSync(join(dir, 'mixed', 'b.log.gz'), Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const r = await runCli(['incident', 'triage', id, join(dir, 'mixed'), '--store', store], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /: 1 rows, .* \(partial: not every part could be read\)/);
    assert.match(r.stderr, /triage of \S+mixed is partial: 1 part\(s\) not read \(\S+b\.log\.gz: .*\); what was read is counted/);
    assert.match(await reportOf(id), /^\| Rows exposed \(triaged\) \| 1 \|$/m);
  });
});
