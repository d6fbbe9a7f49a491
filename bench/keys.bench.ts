// Warden keys: cached verification in-process and over loopback HTTP, revocation propagation
// between processes (PostgreSQL LISTEN/NOTIFY and SQLite polling), and leak report to revocation.
// Usage: npx tsx bench/keys.bench.ts [--keys 10000] [--verifications 1000000] [--http 20000] [--rounds 5]
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { request, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createKeyServer, KeyStore, parseGithubPublicKeys, parseKeySecrets } from '../src/keys/index.js';
import { createScratchDatabase } from '../test/helpers/scratch-databases.js';
import { machineLine } from './measure.js';

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '10000' },
    verifications: { type: 'string', default: '1000000' },
    http: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
  },
});
const KEYS = Number(values.keys);
const VERIFICATIONS = Number(values.verifications);
const HTTP_REQUESTS = Number(values.http);
const ROUNDS = Number(values.rounds);
const CHILD = fileURLToPath(new URL('../src/keys/verifier-child.ts', import.meta.url));
const secretText = `1:${randomBytes(32).toString('base64')}`;
const secrets = parseKeySecrets(secretText, 'bench', (s) => Buffer.from(s, 'base64'));

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function summarise(latenciesNs: Float64Array): string {
  const s = Float64Array.from(latenciesNs).sort();
  return `p50 ${(percentile(s, 0.5) / 1000).toFixed(1)} µs, p99 ${(percentile(s, 0.99) / 1000).toFixed(1)} µs, max ${(s[s.length - 1]! / 1000).toFixed(0)} µs`;
}

async function inProcess(): Promise<void> {
  const keys = await KeyStore.open({ store: ':memory:', secrets, notifications: false });
  const tokens: string[] = [];
  for (let i = 0; i < KEYS; i++)
    tokens.push((await keys.create({ owner: `t${i % 50}`, name: `k${i}`, scopes: ['models:read', 'chat:*'] }, { actor: 'bench' })).key);
  for (const t of tokens) await keys.verify(t);
  const request = { scopes: ['chat:write'], ip: '127.0.0.1' };
  // Throughput first, without timing each call (two hrtime reads would cost as much as a verification).
  const tStart = process.hrtime.bigint();
  for (let i = 0; i < VERIFICATIONS; i++) await keys.verify(tokens[i % KEYS]!, request);
  const throughput = VERIFICATIONS / (Number(process.hrtime.bigint() - tStart) / 1e9);
  console.log(`in-process, cached, await verify(), throughput only: ${Math.round(throughput).toLocaleString('en')} verifications/s`);
  // The synchronous path a gateway takes on every request (verifyCached, falling back on verify).
  const sStart = process.hrtime.bigint();
  for (let i = 0; i < VERIFICATIONS; i++) if (keys.verifyCached(tokens[i % KEYS]!, request) === undefined) await keys.verify(tokens[i % KEYS]!, request);
  const syncThroughput = VERIFICATIONS / (Number(process.hrtime.bigint() - sStart) / 1e9);
  console.log(`in-process, cached, verifyCached(), throughput only: ${Math.round(syncThroughput).toLocaleString('en')} verifications/s`);
  const lat = new Float64Array(VERIFICATIONS);
  let invalid = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < VERIFICATIONS; i++) {
    const t0 = process.hrtime.bigint();
    const r = keys.verifyCached(tokens[i % KEYS]!, request) ?? (await keys.verify(tokens[i % KEYS]!, request));
    lat[i] = Number(process.hrtime.bigint() - t0);
    if (!r.valid) invalid++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(
    `in-process, cached, verifyCached(), each call timed (${KEYS} keys, ${VERIFICATIONS} verifications, one core): ${Math.round(VERIFICATIONS / seconds).toLocaleString('en')} verifications/s; ${summarise(lat)}${invalid ? `; ${invalid} INVALID` : ''}`,
  );
  await keys.close();
}

function post(agent: Agent, port: number, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function overHttp(): Promise<void> {
  const keys = await KeyStore.open({ store: ':memory:', secrets, notifications: false });
  const caller = (await keys.create({ owner: 'gw', name: 'gateway', scopes: ['keys:verify'] })).key;
  const target = (await keys.create({ owner: 'acme', name: 'client', scopes: ['models:read'] })).key;
  const server = createKeyServer({ keys });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  for (const concurrency of [1, 16]) {
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const body = JSON.stringify({ key: target, scopes: ['models:read'] });
    const headers = { authorization: `Bearer ${caller}` };
    for (let i = 0; i < 500; i++) await post(agent, port, '/v1/keys/verify', body, headers);
    const lat = new Float64Array(HTTP_REQUESTS);
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      [...Array(concurrency)].map(async () => {
        while (next < HTTP_REQUESTS) {
          const i = next++;
          const t0 = process.hrtime.bigint();
          const r = await post(agent, port, '/v1/keys/verify', body, headers);
          lat[i] = Number(process.hrtime.bigint() - t0);
          if (r.status !== 200 || !r.body.includes('"valid":true')) throw new Error(`unexpected answer ${r.status}`);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `HTTP loopback POST /v1/keys/verify, concurrency ${concurrency} (client and server share the machine): ${Math.round(HTTP_REQUESTS / seconds).toLocaleString('en')} req/s; ${summarise(lat)}`,
    );
    agent.destroy();
  }
  await new Promise((r) => server.close(r));
  await keys.close();
}

/** Starts a verifier process that prints when the key stops being valid. */
function verifier(location: string, key: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  child.stdin.end(JSON.stringify({ location, secret: secretText, key }) + '\n');
  const next = async (prefix: string): Promise<string> => {
    for (;;) {
      const line = lines.find((l) => l.startsWith(prefix));
      if (line) return line;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { child, next };
}

async function propagation(kind: string, location: string): Promise<void> {
  const admin = await KeyStore.open({ store: location, secrets });
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const { key, info } = await admin.create({ owner: 'o', name: `prop${round}`, scopes: ['a:b'] });
    const vs = [verifier(location, key), verifier(location, key)];
    for (const v of vs) await v.next('ready');
    await new Promise((r) => setTimeout(r, 200));
    const at = Date.now();
    await admin.revoke(info.id, 'bench');
    for (const v of vs) times.push(Number((await v.next('stopped')).split(' ')[1]) - at);
    for (const v of vs) v.child.kill();
  }
  times.sort((a, b) => a - b);
  console.log(
    `revocation propagation, ${kind}, 2 verifier processes x ${ROUNDS} rounds: median ${times[Math.floor(times.length / 2)]} ms, max ${times[times.length - 1]} ms`,
  );
  await admin.close();
}

async function leakToRevocation(location: string): Promise<void> {
  const github = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeys = parseGithubPublicKeys(
    JSON.stringify({ public_keys: [{ key_identifier: 'bench', key: github.publicKey.export({ type: 'spki', format: 'pem' }) }] }),
  );
  const keys = await KeyStore.open({ store: location, secrets });
  const server = createKeyServer({ keys, githubPublicKeys: publicKeys });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const { key } = await keys.create({ owner: 'o', name: 'leaked', scopes: ['a:b'] });
  const v = verifier(location, key);
  await v.next('ready');
  const body = JSON.stringify([{ token: key, type: 'warden_api_key', url: 'https://github.com/o/r/blob/x/y', source: 'content' }]);
  const at = Date.now();
  const agent = new Agent();
  const r = await post(agent, port, '/v1/leaks/github', body, {
    'github-public-key-identifier': 'bench',
    'github-public-key-signature': sign('sha256', Buffer.from(body), github.privateKey).toString('base64'),
  });
  const answered = Date.now() - at;
  const stopped = Number((await v.next('stopped')).split(' ')[1]) - at;
  console.log(
    `leak report (signed GitHub partner POST) to revocation in another process, postgres: answered ${r.status} in ${answered} ms, key stopped after ${stopped} ms`,
  );
  v.child.kill();
  agent.destroy();
  await new Promise((res) => server.close(res));
  await keys.close();
}

console.log(`# warden keys benchmark\n${machineLine()}\n`);
await inProcess();
await overHttp();
const db = await createScratchDatabase();
try {
  await propagation('postgres LISTEN/NOTIFY', db.url);
  await leakToRevocation(db.url);
} finally {
  await db.drop();
}
const dir = mkdtempSync(join(tmpdir(), 'warden-bench-keys-'));
try {
  await propagation('sqlite change polling', join(dir, 'warden.db'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
