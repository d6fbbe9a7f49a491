// warden scan against nmap -sV with its matching NSE scripts, in the same run, over one loopback fleet: real
// servers where Debian ships them (ClickHouse, Redis, memcached, etcd, NATS, Mosquitto, Prometheus, and the
// machine's PostgreSQL and MariaDB on 127.0.0.1) and the documented-wire test servers of test/servers/ for the
// rest (the AI stack, MongoDB, Elasticsearch, Docker, Kubernetes over TLS), each on its own 127.0.0.x address
// at the service's default port. Both tools scan all of 127.0.0.0/24 on warden's default ports. Prints wall
// time and peak RSS of each tool's process, and for every planted service whether each tool reported the
// exposure (or, for a locked one, wrongly reported one).
// Usage: npm run build && npx tsx bench/scan.bench.ts [--rounds 2] [--nmap-timeout 900]
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeSelfSignedCert } from '../test/helpers/self-signed-cert.js';
import { spawnListening } from '../test/helpers/spawn-listening.js';
import { startTcpRelay } from '../test/helpers/tcp-relay.js';
import { startTestDocker } from '../test/servers/docker.js';
import { startTestSearch } from '../test/servers/elasticsearch.js';
import type { TestServer } from '../test/servers/hostile.js';
import { startTestJupyter } from '../test/servers/jupyter.js';
import { startTestKubernetes } from '../test/servers/kubernetes.js';
import { startTestMongo } from '../test/servers/mongodb.js';
import { startTestOllama } from '../test/servers/ollama.js';
import { startTestModelServer } from '../test/servers/openai-compatible.js';
import { startTestQdrant } from '../test/servers/qdrant.js';
import type { ScanReport } from '../src/scan/index.js';
import { defaultPorts, loadProbes } from '../src/scan/registry.js';
import { startTestClickHouse } from '../test/helpers/clickhouse.js';
import { machineLine, measure, type Measurement } from './measure.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, 'nmap-timeout': { type: 'string', default: '900' } } });
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TARGET = '127.0.0.0/24';
/** NSE scripts that match the fleet's services: each proves access (or reads facts) without credentials. */
const NSE_SCRIPTS = [
  'redis-info',
  'mongodb-info',
  'mongodb-databases',
  'mysql-info',
  'mysql-empty-password',
  'memcached-info',
  'mqtt-subscribe',
  'docker-version',
  'amqp-info',
  'http-title',
];

/** What nmap said about one open port. */
interface NmapPort {
  service: string;
  product: string;
  scripts: Record<string, string>;
}

/**
 * One planted service and how to tell, from each tool's output, whether it reported the exposure. For nmap
 * only a script output that an unauthenticated client could get counts; a service named by -sV is only named.
 */
interface Planted {
  host: string;
  port: number;
  label: string;
  /** True when the service lets anyone in (the exposure to find); false for a locked twin. */
  exposed: boolean;
  /** The nmap script whose output proves access for this service, and what an open answer contains. */
  nmapProof?: { script: string; open: RegExp };
}

const dir = mkdtempSync(join(tmpdir(), 'warden-scan-bench-'));
chmodSync(dir, 0o755); // Mosquitto drops to its own user when started as root and must read its files here.
const cleanups: Array<() => unknown> = [];
const planted: Planted[] = [];

async function spawned(command: string, args: string[], host: string, port: number): Promise<void> {
  const child: ChildProcess = await spawnListening(command, args, port, host);
  cleanups.push(() => child.kill('SIGKILL'));
}

/** A test server (bound to 127.0.0.1 on a free port) made reachable at host:port through a relay. */
async function relayed(server: TestServer, host: string, port: number): Promise<void> {
  const relay = await startTcpRelay({ targetPort: server.port, host, port });
  cleanups.push(
    () => relay.close(),
    () => server.close(),
  );
}

async function startFleet(): Promise<void> {
  // 127.0.0.1: the machine's PostgreSQL (trust auth) and MariaDB (root, no password), plus its other services.
  planted.push(
    { host: '127.0.0.1', port: 5432, label: 'PostgreSQL, trust auth (machine)', exposed: true },
    {
      host: '127.0.0.1',
      port: 3306,
      label: 'MariaDB, root without password (machine)',
      exposed: true,
      nmapProof: { script: 'mysql-empty-password', open: /root account has empty password/ },
    },
  );

  const clickhouses = await Promise.all([
    startTestClickHouse({ host: '127.0.0.2', httpPort: 8123, tcpPort: 9000 }),
    startTestClickHouse({ host: '127.0.0.3', httpPort: 8123, tcpPort: 9000, password: 'bench-locked' }),
  ]);
  for (const ch of clickhouses) cleanups.push(() => ch.stop());
  await clickhouses[0]!.query('CREATE TABLE default.log_stream (t DateTime, line String) ENGINE = MergeTree ORDER BY t');
  await clickhouses[0]!.query(
    `INSERT INTO default.log_stream SELECT toDateTime(1736121600 + number), concat('{"role":"user","content":"q', toString(number), '"}') FROM system.numbers LIMIT 100000`,
  );
  planted.push(
    { host: '127.0.0.2', port: 8123, label: 'ClickHouse HTTP, no password', exposed: true },
    { host: '127.0.0.2', port: 9000, label: 'ClickHouse native, no password', exposed: true },
    { host: '127.0.0.3', port: 8123, label: 'ClickHouse HTTP, password', exposed: false },
    { host: '127.0.0.3', port: 9000, label: 'ClickHouse native, password', exposed: false },
  );

  const redisArgs = (host: string) => ['--port', '6379', '--bind', host, '--save', '', '--appendonly', 'no'];
  await spawned('redis-server', redisArgs('127.0.0.4'), '127.0.0.4', 6379);
  await spawned('redis-server', [...redisArgs('127.0.0.5'), '--requirepass', 'bench-locked'], '127.0.0.5', 6379);
  const redisProof = { script: 'redis-info', open: /Version/ };
  planted.push(
    { host: '127.0.0.4', port: 6379, label: 'Redis, no password', exposed: true, nmapProof: redisProof },
    { host: '127.0.0.5', port: 6379, label: 'Redis, requirepass', exposed: false, nmapProof: redisProof },
  );

  await spawned(
    'memcached',
    ['-l', '127.0.0.6', '-p', '11211', '-U', '0', '-m', '16', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])],
    '127.0.0.6',
    11211,
  );
  planted.push({ host: '127.0.0.6', port: 11211, label: 'memcached', exposed: true, nmapProof: { script: 'memcached-info', open: /Process ID|Uptime/ } });

  const etcd = 'http://127.0.0.7';
  await spawned(
    'etcd',
    [
      '--name',
      'bench',
      '--data-dir',
      join(dir, 'etcd'),
      '--listen-client-urls',
      `${etcd}:2379`,
      '--advertise-client-urls',
      `${etcd}:2379`,
      '--listen-peer-urls',
      `${etcd}:2380`,
      '--initial-advertise-peer-urls',
      `${etcd}:2380`,
      '--initial-cluster',
      `bench=${etcd}:2380`,
    ],
    '127.0.0.7',
    2379,
  );
  planted.push({ host: '127.0.0.7', port: 2379, label: 'etcd, auth off', exposed: true });

  await spawned('nats-server', ['-a', '127.0.0.8', '-p', '4222'], '127.0.0.8', 4222);
  await spawned('nats-server', ['-a', '127.0.0.9', '-p', '4222', '--user', 'ops', '--pass', 'bench-locked'], '127.0.0.9', 4222);
  planted.push(
    { host: '127.0.0.8', port: 4222, label: 'NATS, no auth', exposed: true },
    { host: '127.0.0.9', port: 4222, label: 'NATS, user/password', exposed: false },
  );

  const passwords = join(dir, 'mosquitto.passwd');
  execFileSync('mosquitto_passwd', ['-b', '-c', passwords, 'ops', 'bench-locked']);
  chmodSync(passwords, 0o644);
  for (const [host, lines] of [
    ['127.0.0.10', ['allow_anonymous true']],
    ['127.0.0.11', ['allow_anonymous false', `password_file ${passwords}`]],
  ] as const) {
    const conf = join(dir, `mosquitto-${host}.conf`);
    writeFileSync(conf, [`listener 1883 ${host}`, 'persistence false', ...lines, ''].join('\n'));
    chmodSync(conf, 0o644);
    await spawned('mosquitto', ['-c', conf], host, 1883);
  }
  const mqttProof = { script: 'mqtt-subscribe', open: /Topics and their most recent payloads|\$SYS/ };
  planted.push(
    { host: '127.0.0.10', port: 1883, label: 'Mosquitto, anonymous', exposed: true, nmapProof: mqttProof },
    { host: '127.0.0.11', port: 1883, label: 'Mosquitto, password file', exposed: false, nmapProof: mqttProof },
  );

  const promConf = join(dir, 'prometheus.yml');
  writeFileSync(promConf, 'global:\n  scrape_interval: 1h\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ["127.0.0.12:9090"]\n');
  await spawned(
    'prometheus',
    [`--config.file=${promConf}`, `--storage.tsdb.path=${join(dir, 'prometheus')}`, '--web.listen-address=127.0.0.12:9090'],
    '127.0.0.12',
    9090,
  );
  planted.push({ host: '127.0.0.12', port: 9090, label: 'Prometheus, no auth', exposed: true });

  // The rest have no Debian package: documented-wire test servers, relayed to their default ports.
  const cert = makeSelfSignedCert('/CN=bench-node/O=warden-bench');
  const mongoData = { gateway: { chat_logs: [{ user: 'u1', body: 'hello' }], users: [{ name: 'alice' }] } };
  const mongoProof = { script: 'mongodb-databases', open: /gateway/ };
  const servers: Array<[Promise<TestServer>, string, number, string, boolean, Planted['nmapProof']?]> = [
    [
      startTestOllama({ mode: 'open', models: [{ name: 'llama3.1:8b', size: 4_920_753_328, parameterSize: '8.0B', quantization: 'Q4_K_M' }] }),
      '127.0.0.13',
      11434,
      'Ollama',
      true,
    ],
    [startTestModelServer({ mode: 'open', flavour: 'vllm' }), '127.0.0.14', 8000, 'vLLM (OpenAI-compatible)', true],
    [startTestJupyter({ mode: 'open', kernels: 1, files: ['train.ipynb'] }), '127.0.0.15', 8888, 'Jupyter, no token', true],
    [startTestQdrant({ mode: 'open', collections: { docs: 1000 } }), '127.0.0.16', 6333, 'Qdrant, no API key', true],
    [startTestSearch({ mode: 'open', indices: { 'chat-logs': [{ message: 'hi' }] } }), '127.0.0.17', 9200, 'Elasticsearch, security off', true],
    [startTestMongo({ mode: 'open', data: mongoData }), '127.0.0.18', 27017, 'MongoDB, no auth', true, mongoProof],
    [startTestMongo({ mode: 'locked', data: mongoData }), '127.0.0.19', 27017, 'MongoDB, auth on', false, mongoProof],
    [startTestDocker({ mode: 'open', containers: 3 }), '127.0.0.20', 2375, 'Docker Engine API, plain', true, { script: 'docker-version', open: /Version/ }],
    [
      startTestDocker({ mode: 'open', containers: 3, tls: cert }),
      '127.0.0.20',
      2376,
      'Docker Engine API, TLS without --tlsverify',
      true,
      { script: 'docker-version', open: /Version/ },
    ],
    [
      startTestKubernetes({ mode: 'open', role: 'apiserver', pods: { default: 2 }, tls: cert }),
      '127.0.0.21',
      6443,
      'Kubernetes API server (TLS), anonymous reads',
      true,
    ],
    [startTestKubernetes({ mode: 'open', role: 'kubelet', pods: { default: 2 }, tls: cert }), '127.0.0.21', 10250, 'kubelet (TLS), anonymous', true],
  ];
  for (const [server, host, port, label, exposed, nmapProof] of servers) {
    await relayed(await server, host, port);
    planted.push({ host, port, label, exposed, ...(nmapProof ? { nmapProof } : {}) });
  }
}

const unescapeXml = (s: string) =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
const attr = (tag: string, name: string) => unescapeXml(new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1] ?? '');

/** nmap's XML output as host:port → what it said (open ports only). */
function parseNmapXml(xml: string): Map<string, NmapPort> {
  const ports = new Map<string, NmapPort>();
  for (const host of xml.split('<host ').slice(1)) {
    const address = attr(/<address [^>]*>/.exec(host)?.[0] ?? '', 'addr');
    for (const port of host.split('<port ').slice(1)) {
      if (!/<state state="open"/.test(port)) continue;
      const service = /<service [^>]*>/.exec(port)?.[0] ?? '';
      const scripts: Record<string, string> = {};
      for (const script of port.matchAll(/<script [^>]*>/g)) scripts[attr(script[0], 'id')] = attr(script[0], 'output');
      ports.set(`${address}:${attr(port, 'portid')}`, {
        service: attr(service, 'name'),
        product: [attr(service, 'product'), attr(service, 'version')].filter(Boolean).join(' '),
        scripts,
      });
    }
  }
  return ports;
}

/** Did nmap report this planted service as open to anyone? Only a script's proof of access counts. */
function nmapReports(p: Planted, port: NmapPort | undefined): boolean {
  const output = p.nmapProof && port?.scripts[p.nmapProof.script];
  return output !== undefined && output !== '' && p.nmapProof!.open.test(output);
}

const wardenReports = (report: ScanReport, p: Planted) =>
  report.findings.some((f) => f.host === p.host && f.port === p.port && (f.auth === 'none' || f.auth === 'default-credentials'));

const summary = (m: Measurement) =>
  `${m.seconds.toFixed(2)} s wall, peak RSS ${m.peakRssMB.toFixed(0)} MB${m.exitCode === null ? ' (killed at the time limit)' : ''}`;

async function stopFleet(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
// A test server that throws must not leave the fleet's processes behind.
process.once('uncaughtException', (err) => {
  console.error(err);
  void stopFleet().finally(() => process.exit(1));
});

try {
  await startFleet();
  const ports = defaultPorts(await loadProbes());
  console.log(machineLine());
  console.log(
    `fleet: ${planted.length} planted services on ${new Set(planted.map((p) => p.host)).size} addresses; scanning ${TARGET} on ${ports.length} ports (${256 * ports.length} endpoints)`,
  );

  const wardenOut = join(dir, 'warden.json');
  const wardenArgs = [join(ROOT, 'bin', 'warden.js'), 'scan', TARGET, '--default-credentials', '--format', 'json'];
  const wardenRuns: Measurement[] = [];
  for (let round = 1; round <= Number(values.rounds); round++) {
    const m = await measure(process.execPath, wardenArgs, { stdoutFile: wardenOut, timeoutMs: 600_000 });
    wardenRuns.push(m);
    console.log(`warden scan, round ${round}: ${summary(m)}`);
  }
  const report = JSON.parse(readFileSync(wardenOut, 'utf8')) as ScanReport;

  const nmapOut = join(dir, 'nmap.xml');
  const nmapArgs = ['-sV', '-n', '-Pn', '-p', ports.join(','), '--script', NSE_SCRIPTS.join(','), '-oX', nmapOut, TARGET];
  const nmap = await measure('nmap', nmapArgs, { timeoutMs: Number(values['nmap-timeout']) * 1000 });
  console.log(`nmap ${nmapArgs.slice(0, -3).join(' ')} … ${TARGET}: ${summary(nmap)}`);
  // A run killed at the time limit leaves a partial file (or none): what it holds is what nmap had found.
  const nmapPorts = parseNmapXml(existsSync(nmapOut) ? readFileSync(nmapOut, 'utf8') : '');

  console.log('\n| planted service | address | exposed | warden reports exposure | nmap reports exposure | nmap -sV named it |');
  console.log('|---|---|---|---|---|---|');
  for (const p of planted) {
    const port = nmapPorts.get(`${p.host}:${p.port}`);
    const named = port ? [port.service, port.product].filter(Boolean).join(': ') || '?' : 'not open';
    console.log(
      `| ${p.label} | ${p.host}:${p.port} | ${p.exposed ? 'yes' : 'no'} | ${wardenReports(report, p) ? 'yes' : 'no'} | ${nmapReports(p, port) ? 'yes' : 'no'} | ${named} |`,
    );
  }
  const plantedKeys = new Set(planted.map((p) => `${p.host}:${p.port}`));
  const extraWarden = report.findings.filter((f) => !plantedKeys.has(`${f.host}:${f.port}`)).map((f) => `${f.id} (${f.auth})`);
  const extraNmap = [...nmapPorts.keys()].filter((k) => !plantedKeys.has(k));
  console.log(
    `\nopen ports: warden ${report.stats.open}, nmap ${nmapPorts.size}; outside the planted set, warden reported ${extraWarden.join(', ') || 'nothing'}; nmap saw open ${extraNmap.join(', ') || 'nothing'}`,
  );
} finally {
  await stopFleet();
}
