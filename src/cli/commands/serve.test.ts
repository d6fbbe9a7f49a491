// `warden init` and `warden alert test` end to end: the real CLI in child processes, with a webhook
// receiver and a Slack-compatible receiver on loopback.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../../test/helpers/cli.js';
import { verifyWebhookSignature } from '../../serve/index.js';

const dir = mkdtempSync(join(tmpdir(), 'warden-cli-serve-'));

describe('warden init, warden alert test (CLI)', () => {
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
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
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
});
