/**
 * `warden gateway --workers 2` run by the real CLI in another process, in front of the local SSE
 * upstream: requests spread over both workers are all counted on the one /metrics listener, a
 * killed worker is replaced while the port keeps answering, and SIGTERM stops every process.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KeyStore } from '../keys/index.js';
import { startSseUpstream, type TestSseUpstream } from './test-upstreams.js';

const PORT = 21841;
const METRICS_PORT = 21842;
const MAIN = fileURLToPath(new URL('../cli/main.ts', import.meta.url));

/** One request on a connection of its own, so the cluster may hand it to either worker. */
function get(port: number, path: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { 'x-api-key': key } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `warden gateway` from source in a process of its own. */
function cliArgs(configPath: string, workers: number): string[] {
  const code = `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(${JSON.stringify(['gateway', '--config', configPath, '--workers', String(workers), '--no-watch'])});`;
  return ['--import', 'tsx', '--input-type=module', '-e', code];
}

function workerPids(primary: number): number[] {
  // Only the gateway workers: tsx has a child of its own (esbuild).
  const out = spawnSync('pgrep', ['-P', String(primary), '-f', 'gateway-worker'], { encoding: 'utf8' });
  return out.stdout.split('\n').filter(Boolean).map(Number);
}

describe('warden gateway --workers', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-gateway-cluster-'));
  const logPath = join(dir, 'access.log');
  const configPath = join(dir, 'gateway.yaml');
  let sse: TestSseUpstream;
  let cli: ChildProcess;
  let stderr = '';
  let key: string;
  let watcher: string;

  before(async () => {
    process.env.WARDEN_KEY_SECRET = 'gateway-cluster-test-secret-0123456789';
    sse = await startSseUpstream();
    const admin = await KeyStore.open({ store: join(dir, 'keys.db') });
    key = (await admin.create({ owner: 'acme', name: 'llm', scopes: ['llm:inference'] })).key;
    watcher = (await admin.create({ owner: 'acme', name: 'metrics', scopes: ['gateway:metrics'] })).key;
    await admin.close();
    writeFileSync(
      configPath,
      `listen: { port: ${PORT} }
keys: { store: ${join(dir, 'keys.db')} }
accessLog: { path: ${logPath} }
metrics: { port: ${METRICS_PORT} }
routes:
  - name: llm
    upstream: { url: "${sse.url}", profile: openai-compatible }
    allow: [{ endpoints: [models], scopes: ["llm:inference"] }]
`,
    );
    cli = spawn(process.execPath, cliArgs(configPath, 2), { env: process.env, stdio: ['ignore', 'ignore', 'pipe'] });
    cli.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 30_000;
    while (!stderr.includes('gateway listening')) {
      if (Date.now() > deadline || cli.exitCode !== null) throw new Error(`gateway did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (cli && cli.exitCode === null) {
      const exited = new Promise((resolve) => cli.once('exit', resolve));
      cli.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
    await sse?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs two workers and counts requests from both on one /metrics listener', async () => {
    assert.match(stderr, /\(2 worker processes\)/);
    assert.equal(workerPids(cli.pid!).length, 2);
    // 200 requests, 20 connections at a time: the kernel spreads them over both workers' accepts.
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(Array.from({ length: 20 }, () => get(PORT, '/v1/models', key)));
      assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
    }
    const metrics = await get(METRICS_PORT, '/metrics', watcher);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /warden_gateway_requests_total\{route="llm",code="2xx"\} 200\n/);
    assert.equal((await get(PORT, '/v1/models', 'wdn_live_not-a-key')).status, 401);
  });

  it('replaces a worker that dies while the port keeps answering', async () => {
    const [victim] = workerPids(cli.pid!);
    process.kill(victim!, 'SIGKILL');
    for (let i = 0; i < 10; i++) assert.equal((await get(PORT, '/v1/models', key)).status, 200);
    // The primary logs before it forks, but the line reaches this process through a pipe read only
    // when the event loop polls, which can be after pgrep already sees the new worker: wait for both.
    const logged = new RegExp(`gateway worker ${victim} exited \\(SIGKILL\\); starting another`);
    const deadline = Date.now() + 10_000;
    while (workerPids(cli.pid!).filter((p) => p !== victim).length < 2 || !logged.test(stderr)) {
      assert.ok(Date.now() < deadline, `a new worker started and was logged; stderr: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('refuses to start on a port already taken, naming it, with one process or several', () => {
    for (const workers of [1, 2]) {
      const second = spawnSync(process.execPath, cliArgs(configPath, workers), { env: process.env, encoding: 'utf8', timeout: 30_000 });
      assert.equal(second.status, 3, second.stderr);
      assert.match(second.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${PORT} for requests: EADDRINUSE`));
      assert.doesNotMatch(second.stderr, /this is a bug/);
    }
  });

  it('stops every process on SIGTERM, with whole access-log lines from both workers', async () => {
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    cli.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(spawnSync('pgrep', ['-f', `gateway-worker.*${dir}`]).status, 1, 'no worker left');
    const lines = readFileSync(logPath, 'utf8').trim().split('\n');
    const statuses = lines.map((l) => (JSON.parse(l) as { status: number }).status);
    assert.equal(statuses.filter((s) => s === 200).length, 210);
    assert.equal(statuses.filter((s) => s === 401).length, 1);
  });
});
