// `warden keys` end to end: the real CLI in child processes against a real SQLite file, with HOME
// and XDG folders pointed at a temporary directory so the generated secret file lands there.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'warden-cli-keys-'));
const store = join(home, 'keys.db');
const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'data'), WARDEN_KEY_SECRET: '', WARDEN_STORE: '' };

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function warden(args: string[], input = ''): { code: number; stdout: string; stderr: string } {
  const script = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, input, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('warden keys (CLI)', () => {
  after(() => rmSync(home, { recursive: true, force: true }));
  let key = '';
  let id = '';

  it('creates a key, printing it once, and a 0600 secret file', () => {
    const r = warden([
      'keys',
      'create',
      '--owner',
      'acme',
      '--name',
      'ci',
      '--scopes',
      'models:read,chat:*',
      '--expires',
      '90d',
      '--rate',
      '100/min',
      '--quota',
      '10000/month',
      '--json',
      '--store',
      store,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { key: string; id: string; quota: { perPeriod: { limit: number } }; createdAt: string; expiresAt: string };
    assert.match(out.createdAt, ISO_TIME);
    assert.ok(Math.abs(Date.parse(out.expiresAt) - Date.parse(out.createdAt) - 90 * 86_400_000) < 1000, out.expiresAt);
    key = out.key;
    id = out.id;
    assert.match(key, /^wdn_live_[A-Za-z0-9]{38}$/);
    assert.equal(out.quota.perPeriod.limit, 10000);
    assert.equal(statSync(join(home, 'config', 'warden', 'key-secret')).mode & 0o777, 0o600);
  });

  it('verifies a key read from stdin: exit 0 valid, 1 with the reason', () => {
    const ok = warden(['keys', 'verify', '--scopes', 'chat:write', '--store', store], key + '\n');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^valid key_/);
    const scope = warden(['keys', 'verify', '--scopes', 'admin:keys', '--store', store], key);
    assert.deepEqual([scope.code, scope.stdout.trim()], [1, 'invalid: scope']);
    const bogus = warden(['keys', 'verify', '--json', '--store', store], 'wdn_live_' + 'a'.repeat(38));
    assert.equal(bogus.code, 1);
    assert.match((JSON.parse(warden(['keys', 'verify', '--json', '--store', store], key).stdout) as { expiresAt: string }).expiresAt, ISO_TIME);
    assert.equal((JSON.parse(bogus.stdout) as { reason: string }).reason, 'unknown');
  });

  it('refuses a key given as an argument and says to pass it on stdin, without echoing it', () => {
    const r = warden(['keys', 'verify', key, '--store', store]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pass the key on stdin.*shell history/);
    assert.ok(!(r.stdout + r.stderr).includes(key));
  });

  it('disables a key until it is enabled again, both in the audit log', () => {
    const disabled = warden(['keys', 'disable', id, '--reason', 'suspicious traffic', '--json', '--store', store]);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal((JSON.parse(disabled.stdout) as { status: string }).status, 'disabled');
    assert.equal(warden(['keys', 'verify', '--store', store], key).stdout.trim(), 'invalid: disabled');
    const enabled = warden(['keys', 'enable', id, '--store', store]);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, new RegExp(`^${id}  \\S+  active`));
    assert.equal(warden(['keys', 'verify', '--store', store], key).code, 0);
    assert.equal(warden(['keys', 'disable', id, '--store', store]).code, 2, '--reason is required, as for revoke');
  });

  it('lists, shows, rotates and revokes without printing the key again', () => {
    const list = warden(['keys', 'list', '--store', store]);
    const show = warden(['keys', 'show', id, '--store', store]);
    assert.equal(list.code, 0);
    assert.ok(list.stdout.includes(id) && show.stdout.includes('acme'));
    assert.match(list.stdout.split('\n')[0]!, /^ID +KEY +STATUS +OWNER +NAME +SCOPES$/);
    for (const out of [list, show]) assert.ok(!(out.stdout + out.stderr).includes(key));
    const rotated = warden(['keys', 'rotate', id, '--overlap', '24h', '--json', '--store', store]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const successor = JSON.parse(rotated.stdout) as { id: string; key: string; previous: { status: string } };
    assert.equal(successor.previous.status, 'rotating');
    assert.equal(warden(['keys', 'verify', '--store', store], key).code, 0, 'the old key works during the overlap');
    const revoked = warden(['keys', 'revoke', id, '--reason', 'test', '--store', store]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.deepEqual(warden(['keys', 'verify', '--store', store], key).stdout.trim(), 'invalid: revoked');
    key = successor.key;
  });

  it('revokes every key of the store found in a file, and reports the rest as not ours', () => {
    const dump = join(home, 'dump.log');
    writeFileSync(dump, `2025-01-29 INFO request auth="Bearer ${key}"\nother wdn_test_${'b'.repeat(38)}\n`);
    const r = warden(['keys', 'revoke-found', dump, '--json', '--store', store]);
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout) as { found: number; ours: number; revoked: string[] };
    assert.deepEqual([summary.found, summary.ours, summary.revoked.length], [1, 1, 1]);
    assert.ok(!r.stdout.includes(key));
    assert.equal(warden(['keys', 'verify', '--store', store], key).stdout.trim(), 'invalid: revoked');
  });

  it('shows the audit log without secrets', () => {
    const r = warden(['keys', 'audit', '--json', '--store', store]);
    assert.equal(r.code, 0);
    assert.doesNotMatch(r.stdout, /"(?:at|\w+At)": \d/, 'times are ISO 8601, not epoch numbers');
    assert.match((JSON.parse(r.stdout) as Array<{ at: string }>)[0]!.at, ISO_TIME);
    const actions = (JSON.parse(r.stdout) as Array<{ action: string }>).map((e) => e.action);
    assert.deepEqual(actions, ['create', 'disable', 'enable', 'rotate', 'create', 'revoke', 'leak-reported', 'revoke']);
    assert.ok(!r.stdout.includes(key));
    assert.match(warden(['keys', 'audit', '--store', store]).stdout.split('\n')[0]!, /^TIME +ACTOR +ACTION +KEY +DETAILS$/);
  });

  it('exits 2 on bad usage', () => {
    assert.equal(warden(['keys', 'create', '--owner', 'o', '--name', 'n', '--scopes', 'a:b', '--rate', 'lots', '--store', store]).code, 2);
    assert.equal(warden(['keys', 'show', 'key_nope', '--store', store]).code, 2);
  });
});
