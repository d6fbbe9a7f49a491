import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { expandSample } from '../../src/detect/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'sk-proj-' + expandSample('{alnum_-:40}', 51) + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 52);

/** Starts the real CLI as a long-running ingest point and waits for its "listening on" line. */
async function startIngest(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; url: string; stderr: () => string; exit: Promise<number | null> }> {
  const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'scrub', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', WARDEN_INGEST_TOKEN: '', XDG_CONFIG_HOME: join(dir, 'config'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000);
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      const m = /listening on (http:\/\/\S+?)[;\s]/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      reject(new Error(`exited early: ${stderr}`));
    });
  });
  return { child, url, stderr: () => stderr, exit };
}

/** Every ingest point started, so that a failed assertion does not leave one running (and the run hanging). */
const running = new Set<ChildProcess>();

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-listen-'));
});
after(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('warden scrub --listen', () => {
  it('generates a token into a 0600 file (never onto stderr) when none is set, reuses it on restart, stops cleanly on SIGTERM', async () => {
    const file = join(dir, 'out.ndjson');
    const config = join(dir, 'first-start');
    const ingest = await startIngest(['--listen', '127.0.0.1:0', '--forward', file], { XDG_CONFIG_HOME: config });
    const tokenPath = join(config, 'warden', 'ingest-token');
    assert.match(ingest.stderr(), new RegExp(`generated an ingest token in ${tokenPath} \\(mode 0600\\)`));
    assert.equal(statSync(tokenPath).mode & 0o777, 0o600);
    const token = readFileSync(tokenPath, 'utf8').trim();
    assert.ok(token.length >= 32);
    const body = `{"msg":"calling with ${KEY}"}\n{"password":"p4ssw0rd-long"}\n`;
    assert.equal((await fetch(ingest.url, { method: 'POST', body })).status, 401);
    const ok = await fetch(ingest.url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { lines: 2 });
    ingest.child.kill('SIGTERM');
    assert.equal(await ingest.exit, 0);
    assert.ok(!ingest.stderr().includes(token), 'the token is not in the log');
    assert.match(readFileSync(file, 'utf8'), /^{"msg":"calling with \[REDACTED:openai-project-key\]"}\n{"password":"\[REDACTED:[a-z-]+\]"}\n$/);
    assert.match(ingest.stderr(), /stopped: 1 batches, 2 lines forwarded/);

    const again = await startIngest(['--listen', '127.0.0.1:0', '--forward', file], { XDG_CONFIG_HOME: config });
    assert.doesNotMatch(again.stderr(), /generated/);
    assert.equal(
      (await fetch(again.url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"a":1}\n' })).status,
      200,
      'the same token after a restart',
    );
    again.child.kill('SIGTERM');
    assert.equal(await again.exit, 0);
  });

  it('takes several tokens from WARDEN_INGEST_TOKEN or --token-file; refuses a token file others can read', async () => {
    const fromEnv = await startIngest(['--listen', '127.0.0.1:0', '--forward', join(dir, 'env.ndjson')], {
      WARDEN_INGEST_TOKEN: 'shipper-a-token-0001,shipper-b-token-0002',
    });
    for (const token of ['shipper-a-token-0001', 'shipper-b-token-0002']) {
      assert.equal((await fetch(fromEnv.url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"a":1}\n' })).status, 200);
    }
    fromEnv.child.kill('SIGTERM');
    assert.equal(await fromEnv.exit, 0);
    const tokenFile = join(dir, 'tokens');
    writeFileSync(tokenFile, '# one per shipper\nfleet-a-token-000001\n\nfleet-b-token-000002\n', { mode: 0o600 });
    const fromFile = await startIngest(['--listen', '127.0.0.1:0', '--forward', join(dir, 'file.ndjson'), '--token-file', tokenFile]);
    assert.equal((await fetch(fromFile.url, { method: 'POST', headers: { authorization: 'Bearer fleet-b-token-000002' }, body: '{"a":1}\n' })).status, 200);
    fromFile.child.kill('SIGTERM');
    assert.equal(await fromFile.exit, 0);
    chmodSync(tokenFile, 0o644);
    const refused = await startIngest(['--listen', '127.0.0.1:0', '--forward', join(dir, 'x'), '--token-file', tokenFile]).catch((err: Error) => err.message);
    assert.match(String(refused), /open to group or others \(mode 644\); chmod 600 it/);
  });

  it('--no-auth is accepted on loopback only; --listen needs --forward', async () => {
    const ingest = await startIngest(['--listen', '127.0.0.1:0', '--forward', join(dir, 'open.ndjson'), '--no-auth']);
    assert.equal((await fetch(ingest.url, { method: 'POST', body: '{"a":1}\n' })).status, 200);
    ingest.child.kill('SIGTERM');
    assert.equal(await ingest.exit, 0);
    const refused = await startIngest(['--listen', '0.0.0.0:0', '--forward', join(dir, 'x'), '--no-auth']).catch((err: Error) => err.message);
    assert.match(String(refused), /only allowed on a loopback address/);
    const alone = await startIngest(['--listen', '127.0.0.1:0']).catch((err: Error) => err.message);
    assert.match(String(alone), /go together/);
  });

  it('--threads: the workers start with the server, scrub every batch alike and stop with it', async () => {
    const body = `{"msg":"calling with ${KEY}"}\n{"password":"p4ssw0rd-long"}\n`.repeat(20_000);
    const outputs: string[] = [];
    for (const threads of ['1', '2']) {
      const file = join(dir, `threads-${threads}.ndjson`);
      const ingest = await startIngest(['--listen', '127.0.0.1:0', '--forward', file, '--no-auth', '--threads', threads]);
      const answers = await Promise.all(Array.from({ length: 3 }, () => fetch(ingest.url, { method: 'POST', body })));
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200],
      );
      ingest.child.kill('SIGTERM');
      assert.equal(await ingest.exit, 0);
      outputs.push(readFileSync(file, 'utf8'));
    }
    assert.ok(outputs[0] === outputs[1], 'the workers wrote what the main thread writes');
    assert.ok(!outputs[1]!.includes(KEY));
  });
});
