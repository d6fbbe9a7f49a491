// `warden incident` end to end: the real CLI in child processes against a SQLite file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../../test/helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-cli-incident-'));
const store = join(dir, 'warden.db');
const env = { HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_DATA_HOME: join(dir, 'data'), WARDEN_STORE: '', WARDEN_KEY_SECRET: '1:incident-cli-test-0123456789abcdef' };

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
    for (const args of [['incident', 'list'], ['incident', 'status', id]]) {
      const r = await runCli([...args, '--json', '--store', store], { env });
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      assert.doesNotMatch(r.stdout, /"(?:at|\w+At)": \d/, args.join(' '));
    }
    const status = JSON.parse((await runCli(['incident', 'status', id, '--json', '--store', store], { env })).stdout) as { deadlines: Array<{ dueAt: string }> };
    assert.match(status.deadlines[0]!.dueAt, /^2025-0\d-\d\dT/);
  });

  it('shows how long is left in days and hours, not hundreds of hours', async () => {
    const aware = new Date(Date.now() - 160 * 3_600_000).toISOString();
    const opened = await runCli(['incident', 'open', '--kind', 'leaked-api-key', '--aware', aware, '--detected', aware, '--deadline', 'long-duty:A long duty:40d', '--json', '--store', store], { env });
    const { id } = JSON.parse(opened.stdout) as { id: string };
    const status = await runCli(['incident', 'status', id, '--store', store], { env });
    assert.equal(status.code, 1, 'GDPR’s 72 hours are past');
    assert.match(status.stdout, /due +\S+ \(33 d 8 h left\) +A long duty/);
    assert.match(status.stdout, /overdue +\S+ \(3 d 16 h overdue\) +GDPR/);
  });
});
