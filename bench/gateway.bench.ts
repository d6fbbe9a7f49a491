// Gateway overhead: the same upstream driven with wrk directly, through `warden gateway`, and through
// nginx doing the same Warden key check with auth_request (a verifier process answers the subrequest
// with KeyStore.verify, as the gateway does in-process), and through nginx asking `warden gateway --mode authz`
// with auth_request (the gateway's whole policy, examples/authz/nginx.conf). Two upstreams:
// - node: a trivial Node server answering an OpenAI-style GET /v1/models (about 20 us of CPU), which
//   shows the proxies' own cost;
// - clickhouse: the real ClickHouse HTTP interface scripts/services.sh starts, answering a dashboard
//   query (one user's requests and tokens per model, FORMAT JSON) on a 100,000-row chat-log table the
//   bench creates in database warden_bench and drops at the end.
// Every server is its own process on loopback; all share this machine with wrk, in the same run. The
// gateway runs twice: on its default llhttp engine, and on node:http (listen.engine: node), its fallback.
// Usage:
//   npx tsx bench/gateway.bench.ts [--upstream node|clickhouse|both] [--duration 10] [--connections 1,50]
//     [--workers 1] [--rounds 3] [--clickhouse http://127.0.0.1:8123]
// Each figure is the median of --rounds runs, the paths taking turns, so a burst of other load
// on the machine lands on one run of one path rather than on a whole column. The last column is the CPU
// time (user + system, from /proc) of the processes a path adds, per request: the gateway's, or nginx's
// and its verifier's. It moves far less with the machine's neighbours than requests per second do.
// --workers N runs the gateway with N processes (node:cluster) and nginx with N worker processes.
// The gateway runs from the compiled build, as `warden` does (the bench builds first), and the upstream and
// the verifier are plain JavaScript (gateway-peers.mjs): tsx, which wraps every function it compiles to keep
// its name, added about a tenth to the gateway's CPU per request (56-72 against 48-68 us, taking turns).
// Needs Debian's nginx and wrk, and for --upstream clickhouse the ClickHouse it starts (scripts/services.sh).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyStore } from '../src/keys/index.js';
import { cpuSeconds, machineLine, median, processTree, wrk, type WrkResult } from './measure.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '1,50' },
    workers: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    upstream: { type: 'string', default: 'both' },
    clickhouse: { type: 'string', default: 'http://127.0.0.1:8123' },
  },
});
const PEERS = fileURLToPath(new URL('./gateway-peers.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WARDEN = fileURLToPath(new URL('../bin/warden.js', import.meta.url));
const BODY = JSON.stringify({ object: 'list', data: [{ id: 'bench-model', object: 'model', owned_by: 'bench' }] });
const BENCH_TABLE = 'warden_bench.chat_logs';
/** What an analytics dashboard asks for one user: requests and tokens per model. */
const DASHBOARD_QUERY = `SELECT model, count() AS requests, sum(tokens) AS tokens FROM ${BENCH_TABLE} WHERE user_id = 42 GROUP BY model ORDER BY tokens DESC FORMAT JSON`;

const keyHeader = (key: string | null) => (key ? [`X-API-Key: ${key}`] : []);

function start(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('error', (err) => console.error(`${command}: ${err.message}`));
  return child;
}

async function ready(url: string, headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { headers });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200`);
}

/**
 * One upstream as measured: its paths and what the header line says about them. `proxy` lists the
 * processes a path adds in front of the upstream (none for direct), whose CPU per request is reported:
 * on a machine whose throughput swings with its neighbours, CPU per request is the steadier comparison.
 */
interface Bench {
  title: string;
  paths: Array<[name: string, url: string, key: string | null, proxy: () => number[]]>;
}

interface PathResult extends WrkResult {
  /** CPU time of the path's proxy processes per request, in microseconds. */
  proxyCpuUs: number;
}

/** What a table cell shows: the median of each figure over the rounds. */
type PathSummary = Pick<PathResult, 'rps' | 'p50' | 'p99' | 'proxyCpuUs'>;

/** Prints one table: every connection level, each cell the median of `rounds` runs, the paths taking turns. */
function measureUpstream(bench: Bench, levels: number[], seconds: number, rounds: number): void {
  console.log(`## ${bench.title}\n`);
  console.log('| path | connections | requests/s | p50 ms | p99 ms | p50 added ms | p99 added ms | % of direct rps | % of nginx rps | proxy CPU µs/request |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of levels) {
    // Warm-up so JIT, pools and caches are in steady state for every path.
    for (const [, url, k] of bench.paths) wrk(url, c, 2, keyHeader(k));
    const runs = bench.paths.map((): PathResult[] => []);
    for (let round = 0; round < rounds; round++) {
      bench.paths.forEach(([name, url, k, proxy], i) => {
        const pids = proxy();
        const cpuBefore = cpuSeconds(pids);
        const r = wrk(url, c, seconds, keyHeader(k));
        const proxyCpuUs = ((cpuSeconds(pids) - cpuBefore) * 1e6) / r.requests;
        if (r.non2xx) throw new Error(`${name}: ${r.non2xx} non-2xx responses`);
        runs[i]!.push({ ...r, proxyCpuUs });
      });
    }
    const results = bench.paths.map(([name], i) => {
      const rs = runs[i]!;
      const mid = (f: (r: PathResult) => number) => median(rs.map(f));
      const summary: PathSummary = { rps: mid((r) => r.rps), p50: mid((r) => r.p50), p99: mid((r) => r.p99), proxyCpuUs: mid((r) => r.proxyCpuUs) };
      return [name, summary] as const;
    });
    const direct = results[0]![1];
    const nginx = results[2]![1];
    for (const [name, r] of results) {
      const added = (p: 'p50' | 'p99') => (r === direct ? '-' : (r[p] - direct[p]).toFixed(2));
      const ofNginx = r === direct || r === nginx ? '-' : `${Math.round((r.rps / nginx.rps) * 100)}%`;
      const cpu = r === direct ? '-' : r.proxyCpuUs.toFixed(0);
      console.log(
        `| ${name} | ${c} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${added('p50')} | ${added('p99')} | ${Math.round((r.rps / direct.rps) * 100)}% | ${ofNginx} | ${cpu} |`,
      );
    }
  }
  console.log('');
}

/** Runs SQL through ClickHouse's HTTP interface (POST, so DDL and inserts are allowed). */
async function clickhouse(base: string, sql: string): Promise<void> {
  const res = await fetch(base, { method: 'POST', body: sql });
  const text = await res.text();
  if (!res.ok) throw new Error(`ClickHouse: ${text.trim()}`);
}

/** 100,000 chat-log rows from 1,000 users over a month, ordered by user as a per-user dashboard needs. */
async function createBenchTable(base: string): Promise<void> {
  await clickhouse(base, 'CREATE DATABASE IF NOT EXISTS warden_bench');
  await clickhouse(base, `DROP TABLE IF EXISTS ${BENCH_TABLE}`);
  await clickhouse(
    base,
    `CREATE TABLE ${BENCH_TABLE} (ts DateTime, user_id UInt32, model String, prompt String, tokens UInt32) ENGINE = MergeTree PARTITION BY toYYYYMM(ts) ORDER BY (user_id, ts)`,
  );
  await clickhouse(
    base,
    `INSERT INTO ${BENCH_TABLE} SELECT toDateTime('2025-01-01 00:00:00') + number * 26, intHash32(number) % 1000,
       ['deepseek-chat', 'deepseek-reasoner', 'gpt-4o-mini', 'llama-3.1-70b'][intHash32(number * 7) % 4 + 1],
       concat('Summarise support ticket #', toString(number), ' and draft a friendly reply to the customer.'),
       50 + intHash32(number * 13) % 4000
     FROM system.numbers LIMIT 100000`,
  );
}

async function dropBenchTable(base: string): Promise<void> {
  await clickhouse(base, `DROP TABLE IF EXISTS ${BENCH_TABLE}`);
  await clickhouse(base, 'DROP DATABASE IF EXISTS warden_bench');
}

async function main(): Promise<void> {
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
  const seconds = Number(values.duration);
  const levels = values.connections!.split(',').map(Number);
  const workers = Number(values.workers);
  const rounds = Number(values.rounds);
  if (!['node', 'clickhouse', 'both'].includes(values.upstream!)) throw new Error('--upstream is node, clickhouse or both');
  const useNode = values.upstream !== 'clickhouse';
  const useClickhouse = values.upstream !== 'node';
  const ch = new URL(values.clickhouse!);
  const dir = mkdtempSync(join(tmpdir(), 'warden-gateway-bench-'));
  // The gateway injects the ClickHouse user from its environment, as in docs/gateway.md.
  const env = { ...process.env, WARDEN_KEY_SECRET: randomBytes(32).toString('base64'), CLICKHOUSE_USER: 'default' };
  process.env.WARDEN_KEY_SECRET = env.WARDEN_KEY_SECRET;
  const store = join(dir, 'keys.db');
  const admin = await KeyStore.open({ store });
  const { key } = await admin.create({ owner: 'bench', name: 'bench', scopes: ['llm:read', 'clickhouse:read'] });
  await admin.close();
  const [UP, GW, VER, NGX, GW_NODE, AUTHZ, NGX_AUTHZ] = [21501, 21502, 21503, 21504, 21505, 21506, 21507];
  // One listener each for the gateway and nginx: /v1 goes to the Node upstream, the rest to ClickHouse.
  const routes = [
    ...(useNode
      ? [
          `  - name: llm
    match: { pathPrefix: /v1 }
    upstream: { url: "http://127.0.0.1:${UP}", profile: openai-compatible }
    allow:
      - { endpoints: [models], scopes: ["llm:read"] }`,
        ]
      : []),
    ...(useClickhouse
      ? [
          `  - name: clickhouse
    upstream:
      url: "${ch.origin}"
      profile: clickhouse
      injectHeaders: { X-ClickHouse-User: { env: CLICKHOUSE_USER } }
    allow:
      - { classes: [read], methods: [GET], scopes: ["clickhouse:read"] }`,
        ]
      : []),
  ];
  writeFileSync(join(dir, 'gateway.yaml'), `listen: { port: ${GW} }\nkeys: { store: ${store} }\nroutes:\n${routes.join('\n')}\n`);
  // The authz listener runs in one process (--workers is for the proxy).
  writeFileSync(join(dir, 'gateway-authz.yaml'), `authz: { listen: { port: ${AUTHZ} } }\nkeys: { store: ${store} }\nroutes:\n${routes.join('\n')}\n`);
  writeFileSync(join(dir, 'gateway-node.yaml'), `listen: { port: ${GW_NODE}, engine: node }\nkeys: { store: ${store} }\nroutes:\n${routes.join('\n')}\n`);
  const verify = (scope: string) => `
      internal;
      proxy_pass http://verifier/verify/${scope};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;`;
  const locations = [
    ...(useNode
      ? [
          `    location /v1/ {
      auth_request /_warden_verify_llm;
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-API-Key "";
    }
    location = /_warden_verify_llm {${verify('llm:read')}
    }`,
        ]
      : []),
    ...(useClickhouse
      ? [
          `    location = / {
      auth_request /_warden_verify_clickhouse;
      proxy_pass http://clickhouse;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-API-Key "";
      proxy_set_header X-ClickHouse-User default;
      proxy_set_header X-ClickHouse-Key "";
    }
    location = /_warden_verify_clickhouse {${verify('clickhouse:read')}
    }`,
        ]
      : []),
  ];
  // The same locations, each asking warden's authz listener with the original request, as in examples/authz/nginx.conf.
  const authzLocations = locations
    .map((l) => l.replace(/auth_request \/_warden_verify_\w+;/, 'auth_request /_warden_authz;'))
    .map((l) => l.replace(/\n {4}location = \/_warden_verify_\w+ \{[^}]*\}/, ''));
  authzLocations.push(`    location = /_warden_authz {
      internal;
      proxy_pass http://warden_authz/auth;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
    }`);
  mkdirSync(join(dir, 'nginx-tmp'));
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/nginx-tmp/body;
  proxy_temp_path ${dir}/nginx-tmp/proxy;
  fastcgi_temp_path ${dir}/nginx-tmp/fastcgi;
  uwsgi_temp_path ${dir}/nginx-tmp/uwsgi;
  scgi_temp_path ${dir}/nginx-tmp/scgi;
  upstream app { server 127.0.0.1:${UP}; keepalive 64; }
  upstream clickhouse { server ${ch.host}; keepalive 64; }
  upstream verifier { server 127.0.0.1:${VER}; keepalive 64; }
  upstream warden_authz { server 127.0.0.1:${AUTHZ}; keepalive 64; }
  server {
    listen 127.0.0.1:${NGX};
${locations.join('\n')}
  }
  server {
    listen 127.0.0.1:${NGX_AUTHZ};
${authzLocations.join('\n')}
  }
}
`,
  );
  const verifier = start(process.execPath, [PEERS, 'verifier', String(VER), store], env);
  const gatewayProcess = start(process.execPath, [WARDEN, 'gateway', '--config', join(dir, 'gateway.yaml'), '--no-watch', '--workers', String(workers)], env);
  const nodeEngineProcess = start(
    process.execPath,
    [WARDEN, 'gateway', '--config', join(dir, 'gateway-node.yaml'), '--no-watch', '--workers', String(workers)],
    env,
  );
  const authzProcess = start(process.execPath, [WARDEN, 'gateway', '--config', join(dir, 'gateway-authz.yaml'), '--mode', 'authz', '--no-watch'], env);
  const nginxProcess = start('nginx', ['-e', join(dir, 'nginx-error.log'), '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], env);
  const children = [
    ...(useNode ? [start(process.execPath, [PEERS, 'upstream', String(UP), BODY], env)] : []),
    verifier,
    gatewayProcess,
    nodeEngineProcess,
    authzProcess,
    nginxProcess,
  ];
  // The gateway with its --workers processes; nginx's master and workers, and the verifier it asks.
  const gatewayPids = () => processTree(gatewayProcess.pid!);
  const nodeEnginePids = () => processTree(nodeEngineProcess.pid!);
  const nginxPids = () => [...processTree(nginxProcess.pid!), verifier.pid!];
  const nginxAuthzPids = () => [...processTree(nginxProcess.pid!), authzProcess.pid!];
  try {
    if (useClickhouse) await createBenchTable(ch.origin);
    const upstreams = [
      ...(useNode ? [{ name: 'node', direct: `http://127.0.0.1:${UP}`, target: '/v1/models', shown: '/v1/models' }] : []),
      ...(useClickhouse
        ? [{ name: 'clickhouse', direct: ch.origin, target: `/?query=${encodeURIComponent(DASHBOARD_QUERY)}`, shown: `/?query=${DASHBOARD_QUERY}` }]
        : []),
    ];
    const h = { 'x-api-key': key };
    const benches: Bench[] = [];
    for (const u of upstreams) {
      const [direct, gateway, nginx, nodeEngine, nginxAuthz] = [
        u.direct,
        `http://127.0.0.1:${GW}`,
        `http://127.0.0.1:${NGX}`,
        `http://127.0.0.1:${GW_NODE}`,
        `http://127.0.0.1:${NGX_AUTHZ}`,
      ].map((origin) => `${origin}${u.target}`) as [string, string, string, string, string];
      await Promise.all([ready(direct), ready(gateway, h), ready(nginx, h), ready(nodeEngine, h), ready(nginxAuthz, h)]);
      for (const url of [nginx, nginxAuthz]) {
        const refused = await fetch(url);
        if (refused.status !== 401) throw new Error(`nginx let an unauthenticated request through (${refused.status})`);
      }
      const body = await (await fetch(gateway, { headers: h })).arrayBuffer();
      benches.push({
        title: `${u.name} upstream: GET ${u.shown} (${body.byteLength} B body)`,
        paths: [
          ['direct (no auth)', direct, null, () => []],
          ['warden gateway', gateway, key, gatewayPids],
          ['nginx + auth_request', nginx, key, nginxPids],
          ['warden gateway, node:http engine', nodeEngine, key, nodeEnginePids],
          ['nginx + auth_request to warden authz', nginxAuthz, key, nginxAuthzPids],
        ],
      });
    }
    const processes = workers === 1 ? 'one worker process' : `${workers} worker processes`;
    console.log(
      `# gateway benchmark\n${machineLine()}\nwrk ${seconds}s per run after a 2 s warm-up, median of ${rounds} interleaved runs per cell, ${processes} each for nginx and the gateway\n`,
    );
    for (const b of benches) measureUpstream(b, levels, seconds, rounds);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
    if (useClickhouse) await dropBenchTable(ch.origin);
  }
}

await main();
