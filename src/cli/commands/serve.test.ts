// `warden init`, `warden alert test` and `warden serve`'s first-start admin key end to end: the real CLI
// in child processes, with a webhook receiver and a Slack-compatible receiver on loopback.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, spawnCli } from '../../../test/helpers/cli.js';
import { freePort } from '../../../test/helpers/free-port.js';
import { verifyWebhookSignature } from '../../serve/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-cli-serve-'));

describe('warden init, warden alert test, warden serve (CLI)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a starter file once, and refuses to overwrite it without --force', async () => {
    const path = join(dir, 'warden.yaml');
    const first = await runCli(['init', path]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(readFileSync(path, 'utf8'), /^# warden\.yaml/);
    const again = await runCli(['init', path]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; pass --force/);
  });

  it('reports a config error with its line and exit code 2', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'version: 1\ninventories:\n  - {name: a, targets: [127.0.0.1], every: soon}\n');
    const r = await runCli(['alert', 'test', '--config', path]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:3: inventories\.0\.every: expected a duration/);
  });

  it('sends a signed test alert to a webhook and a Slack-compatible sink, and fails on a dead sink', async () => {
    const bodies: Array<{ path: string; body: string; headers: Record<string, unknown> }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push({ path: req.url ?? '', body, headers: req.headers });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // A port that was just free: nothing listens there, so delivery is refused.
    const deadPort = await freePort();
    const path = join(dir, 'alerts.yaml');
    writeFileSync(
      path,
      `version: 1
inventories: [{name: a, targets: [127.0.0.1], every: 1h}]
alerts:
  - {name: hook, type: webhook, url: "http://127.0.0.1:${port}/hook", secretEnv: HOOK_SECRET}
  - {name: chat, type: slack, urlEnv: SLACK_URL}
  - {name: dead, type: webhook, url: "http://127.0.0.1:${deadPort}/nothing", retries: 0, timeout: 2s}
`,
    );
    const env = { HOOK_SECRET: 'test-signing-secret-123', SLACK_URL: `http://127.0.0.1:${port}/slack` };
    const good = await runCli(['alert', 'test', '--config', path, '--sink', 'hook'], { env });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^hook\twebhook\tdelivered\t200\t1 attempt\n$/);
    const hook = bodies.find((b) => b.path === '/hook')!;
    assert.equal((JSON.parse(hook.body) as { type: string }).type, 'warden.test');
    assert.ok(verifyWebhookSignature(env.HOOK_SECRET, String(hook.headers['x-warden-timestamp']), hook.body, String(hook.headers['x-warden-signature'])));
    assert.ok(!good.stdout.includes(env.HOOK_SECRET) && !good.stderr.includes(env.HOOK_SECRET));

    const all = await runCli(['alert', 'test', '--config', path], { env });
    assert.equal(all.code, 3);
    assert.match(all.stdout, /chat\tslack\tdelivered/);
    assert.match(all.stdout, /dead\twebhook\tFAILED\tECONNREFUSED/);
    const slack = bodies.find((b) => b.path === '/slack')!;
    assert.match((JSON.parse(slack.body) as { text: string }).text, /^Warden test alert/);
    server.close();
  });

  it('writes the first-start admin key to a 0600 file, not to stderr, and a lost one is replaced with keys create', async () => {
    const home = mkdtempSync(join(dir, 'serve-'));
    const path = join(home, 'warden.yaml');
    writeFileSync(path, 'version: 1\ninventories: [{name: a, targets: ["127.0.0.1:9"], every: 1h}]\n');
    // Its own key secret and config folder: nothing of the user running the tests is read or written.
    const env = { WARDEN_KEY_SECRET: randomBytes(32).toString('hex'), XDG_CONFIG_HOME: join(home, 'config') };
    const serve = spawnCli(['serve', '--config', path, '--listen', '127.0.0.1:0'], env);
    let stderr = '';
    serve.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const started = Date.now();
      while (!/listening on (http:\S+)/.test(stderr) && Date.now() - started < 30_000 && serve.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const url = /listening on (http:\S+)/.exec(stderr)?.[1];
      assert.ok(url, stderr);
      const keyFile = join(home, 'warden-admin-key');
      assert.ok(stderr.includes(`wrote it to ${keyFile} (mode 0600)`), stderr);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      const firstKey = readFileSync(keyFile, 'utf8').trim();
      assert.match(firstKey, /^wdn_live_/);
      assert.ok(!stderr.includes(firstKey) && !stderr.includes(firstKey.slice(9, 30)), 'the key is not in the log');
      const metrics = (key: string) => fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal((await metrics(firstKey)).status, 200);

      // The documented way to mint an admin key when that one is lost.
      const made = await runCli(
        ['keys', 'create', '--store', join(home, 'warden.db'), '--owner', 'ops', '--name', 'serve-admin', '--scopes', 'serve:admin,serve:read,metrics:read'],
        { env },
      );
      assert.equal(made.code, 0, made.stderr);
      const newKey = made.stdout.trim();
      assert.equal((await metrics(newKey)).status, 200);
      const ack = await fetch(`${url}/api/v1/findings/a/nothing/acknowledgement`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${newKey}`, 'content-type': 'application/json' },
        body: '{"kind":"acknowledge","reason":"x"}',
      });
      assert.equal(ack.status, 404, 'past the serve:admin check, to a finding that does not exist');
    } finally {
      const exited = new Promise((r) => serve.once('exit', r));
      serve.kill('SIGTERM');
      await exited;
    }
  });
});
