// The CPU of one authorization decision of `warden gateway --mode authz`, apart from HTTP: the policy
// called in-process many times (process.cpuUsage), on a key cache hit and on a miss, beside the key
// check alone (KeyStore.verifyCached, what a bare key verifier decides) and the whole HTTP round trip
// (wrk asking the authz listener's /auth as nginx's auth_request does; the CPU of the authz process per
// request, from /proc). The route is examples/authz/gateway.yaml's: ClickHouse profile, read class, GET,
// scope clickhouse:read, two identity headers. Issue #21's target: under 50 µs of CPU on a cache hit.
// Usage: npx tsx bench/authz-decision.bench.ts [--decisions 200000] [--misses 5000] [--rounds 5]
//   [--duration 5] [--connections 1,50] [--no-build]
// Runs the compiled build (it builds first unless --no-build), as `warden` runs; needs wrk for the round trip.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, machineLine, median, wrk } from './measure.js';

const { values } = parseArgs({
  options: {
    decisions: { type: 'string', default: '200000' },
    misses: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '1,50' },
    'no-build': { type: 'boolean', default: false },
  },
});
const DECISIONS = Number(values.decisions);
const MISSES = Number(values.misses);
const ROUNDS = Number(values.rounds);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WARDEN = join(ROOT, 'bin', 'warden.js');
const EXAMPLE = join(ROOT, 'examples', 'authz', 'gateway.yaml');
const AUTHZ_PORT = 21521;
const AUTH_URL = `http://127.0.0.1:${AUTHZ_PORT}/auth`;
/** What nginx asks about (examples/authz/nginx.conf): a dashboard's read query. */
const ORIGINAL_URI = '/?query=SELECT%20count()%20FROM%20system.tables';

/** A compiled module, typed as its source. */
const compiled = <T>(path: string): Promise<T> => import(pathToFileURL(join(ROOT, 'dist', path)).href) as Promise<T>;

/** µs of CPU (user + system) per call, over `n` calls, each awaited when it returns a promise (a cache miss). */
async function cpuPerCall(n: number, call: (i: number) => unknown): Promise<number> {
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const r = call(i);
    if (r instanceof Promise) await r;
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

/** What nginx's auth_request sends Warden about that request. */
const authHeaders = (key: string) => [`X-Original-URI: ${ORIGINAL_URI}`, 'X-Original-Method: GET', 'X-Forwarded-For: 127.0.0.1', `X-API-Key: ${key}`];

async function main(): Promise<void> {
  if (!values['no-build']) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const { KeyStore } = await compiled<typeof import('../src/keys/index.js')>('keys/index.js');
  const { parseGatewayConfig } = await compiled<typeof import('../src/gateway/config.js')>('gateway/config.js');
  const { OidcVerifier } = await compiled<typeof import('../src/gateway/auth/oidc.js')>('gateway/auth/oidc.js');
  const { decide } = await compiled<typeof import('../src/gateway/policy.js')>('gateway/policy.js');
  const { authorize } = await compiled<typeof import('../src/gateway/authz/authorize.js')>('gateway/authz/authorize.js');
  const { forwardAuthReport, ReportedFields } = await compiled<typeof import('../src/gateway/authz/report.js')>('gateway/authz/report.js');

  const dir = mkdtempSync(join(tmpdir(), 'warden-authz-decision-bench-'));
  process.env.WARDEN_KEY_SECRET = randomBytes(32).toString('base64');
  const store = join(dir, 'keys.db');
  const configText = readFileSync(EXAMPLE, 'utf8')
    .replace('store: ./keys.db', `store: ${store}`)
    .replace('port: 8481', `port: ${AUTHZ_PORT}`)
    .replace(/\n\s*grpc: .*\n/, '\n');
  const config = parseGatewayConfig(configText, EXAMPLE, dir);
  const state = { config, oidc: new OidcVerifier(config.oidc), assertion: null };
  // As the gateway opens it (change notifications on), trusting a cached key for the whole run so that every
  // decision of the hit rounds is one: the path is the same as within the usual minute.
  const keys = await KeyStore.open({ store, cacheTtlMs: 3_600_000 });
  // A cache of one, asked with two keys in turn: every decision reads the store.
  const missing = await KeyStore.open({ store, notifications: false, cacheSize: 1 });
  const tokens: string[] = [];
  for (let i = 0; i < 2; i++) tokens.push((await keys.create({ owner: 'bench', name: `reader-${i}`, scopes: ['clickhouse:read'] })).key);
  const key = tokens[0]!;
  await keys.verify(key);

  const fields = [
    ['host', '127.0.0.1:8080'],
    ['x-original-uri', ORIGINAL_URI],
    ['x-original-method', 'GET'],
    ['x-forwarded-for', '127.0.0.1'],
    ['x-api-key', key],
    ['user-agent', 'Mozilla/5.0 (dashboard)'],
    ['accept', 'application/json'],
  ] as Array<[string, string]>;
  const report = forwardAuthReport(new ReportedFields(fields));
  if ('status' in report) throw new Error(`the report was refused: ${report.reason}`);
  const policyRequest = {
    method: 'GET',
    host: '127.0.0.1:8080',
    path: '/',
    query: ORIGINAL_URI.slice(2),
    apiKey: key,
    authorization: undefined,
    clientIp: '127.0.0.1',
    tls: null,
    via: 'authz',
  };
  const allowedNow = (a: unknown) => {
    if (a instanceof Promise) throw new Error('a cache hit went to the store');
    if ((a as { refusal: unknown }).refusal) throw new Error(`refused: ${JSON.stringify((a as { refusal: unknown }).refusal)}`);
  };
  allowedNow(authorize(state, keys, report));
  const keyRequest = { ip: '127.0.0.1', scopes: ['clickhouse:read'] };

  const hit = {
    key: [] as number[],
    decide: [] as number[],
    authorize: [] as number[],
    reported: [] as number[],
    miss: [] as number[],
  };
  // Warm-up for the JIT, then rounds taking turns.
  for (let w = 0; w < 2; w++) {
    await cpuPerCall(DECISIONS / 4, () => allowedNow(authorize(state, keys, forwardAuthReport(new ReportedFields(fields)))));
    await cpuPerCall(MISSES / 4, (i) => authorize(state, missing, { ...report, apiKey: tokens[i % 2] }));
  }
  for (let r = 0; r < ROUNDS; r++) {
    hit.key.push(await cpuPerCall(DECISIONS, () => keys.verifyCached(key, keyRequest)));
    hit.decide.push(await cpuPerCall(DECISIONS, () => decide(state, keys, policyRequest)));
    hit.authorize.push(await cpuPerCall(DECISIONS, () => authorize(state, keys, report)));
    hit.reported.push(await cpuPerCall(DECISIONS, () => allowedNow(authorize(state, keys, forwardAuthReport(new ReportedFields(fields))))));
    hit.miss.push(await cpuPerCall(MISSES, (i) => authorize(state, missing, { ...report, apiKey: tokens[i % 2] })));
  }
  await missing.close();
  await keys.close();

  // The round trip: the same route and key, asked over HTTP by wrk, the authz listener in a process of its own.
  const configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, configText);
  const authz = spawn(process.execPath, [WARDEN, 'gateway', '--config', configPath, '--mode', 'authz', '--no-watch'], {
    env: process.env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const http: Array<{ connections: number; rps: number; p50: number; cpuUs: number }> = [];
  try {
    for (let i = 0; i < 100 && spawnSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${AUTHZ_PORT}/`]).status !== 0; i++) await sleep(100);
    const seconds = Number(values.duration);
    for (const connections of values.connections!.split(',').map(Number)) {
      wrk(AUTH_URL, connections, 2, authHeaders(key));
      const runs: Array<{ rps: number; p50: number; cpuUs: number }> = [];
      for (let r = 0; r < Math.max(1, Math.ceil(ROUNDS / 2)); r++) {
        const before = cpuSeconds([authz.pid!]);
        const w = wrk(AUTH_URL, connections, seconds, authHeaders(key));
        if (w.non2xx) throw new Error(`${w.non2xx} refusals over HTTP`);
        runs.push({ rps: w.rps, p50: w.p50, cpuUs: ((cpuSeconds([authz.pid!]) - before) * 1e6) / w.requests });
      }
      http.push({ connections, rps: median(runs.map((x) => x.rps)), p50: median(runs.map((x) => x.p50)), cpuUs: median(runs.map((x) => x.cpuUs)) });
    }
  } finally {
    const exited = new Promise((resolve) => authz.once('exit', resolve));
    authz.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }

  const us = (xs: number[]) => median(xs).toFixed(2);
  const decision = median(hit.reported);
  console.log(`# authz decision CPU (${machineLine()})\n`);
  console.log(`${DECISIONS.toLocaleString('en')} decisions a round on a cache hit, ${MISSES.toLocaleString('en')} on a miss; median of ${ROUNDS} rounds.\n`);
  console.log('| what | CPU µs/decision |');
  console.log('|---|---|');
  console.log(`| key check alone (KeyStore.verifyCached, cache hit) | ${us(hit.key)} |`);
  console.log(`| policy decision (decide, cache hit) | ${us(hit.decide)} |`);
  console.log(`| authz answer (authorize: decision and identity headers, cache hit) | ${us(hit.authorize)} |`);
  console.log(`| report read and answered (forwardAuthReport + authorize, cache hit) | ${us(hit.reported)} |`);
  console.log(`| report answered on a cache miss (SQLite read) | ${us(hit.miss)} |`);
  console.log('');
  console.log('| HTTP round trip (wrk to /auth) | requests/s | p50 ms | authz process CPU µs/request | decision share of it |');
  console.log('|---|---|---|---|---|');
  for (const h of http)
    console.log(
      `| ${h.connections} connection(s) | ${Math.round(h.rps)} | ${h.p50.toFixed(2)} | ${h.cpuUs.toFixed(0)} | ${Math.round((decision / h.cpuUs) * 100)}% |`,
    );
  console.log(`\ntarget: a cache-hit decision under 50 µs of CPU: ${decision.toFixed(2)} µs, ${decision < 50 ? 'met' : 'MISSED'}`);
  if (decision >= 50) process.exitCode = 1;
}

await main();
