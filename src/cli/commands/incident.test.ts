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
});
