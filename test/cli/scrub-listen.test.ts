import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { expandSample } from '../../src/detect/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KEY = 'sk-proj-' + expandSample('{alnum_-:40}', 51) + 'T3BlbkFJ' + expandSample('{alnum_-:40}', 52);

/** Starts the real CLI as a long-running ingest point and waits for its "listening on" line. */
async function startIngest(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; stderr: () => string; exit: Promise<number | null> }> {
  const script = "const { main } = await import('./src/cli/main.ts'); process.exitCode = await main(process.argv.slice(1));";
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'scrub', ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', WARDEN_INGEST_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-listen-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('warden scrub --listen', () => {
  it('generates a token when none is set, forwards scrubbed batches to a file, stops cleanly on SIGTERM', async () => {
    const file = join(dir, 'out.ndjson');
    const ingest = await startIngest(['--listen', '127.0.0.1:0', '--forward', file]);
    const token = /token \(shown once[^)]*\): (\S+)/.exec(ingest.stderr())?.[1];
    assert.ok(token, ingest.stderr());
    const body = `{"msg":"calling with ${KEY}"}\n{"password":"p4ssw0rd-long"}\n`;
    assert.equal((await fetch(ingest.url, { method: 'POST', body })).status, 401);
    const ok = await fetch(ingest.url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { lines: 2 });
    ingest.child.kill('SIGTERM');
    assert.equal(await ingest.exit, 0);
    assert.match(readFileSync(file, 'utf8'), /^{"msg":"calling with \[REDACTED:openai-project-key\]"}\n{"password":"\[REDACTED:[a-z-]+\]"}\n$/);
    assert.match(ingest.stderr(), /stopped: 1 batches, 2 lines forwarded/);
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
});
