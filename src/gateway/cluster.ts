/**
 * `warden gateway --workers N`: N gateway processes share the listening port through node:cluster,
 * as nginx runs worker processes, so the gateway can use every core. The primary only supervises:
 * it forwards reloads, starts a new worker when one dies, writes the workers' stdout access log
 * (lines from several processes written to one pipe could interleave), and gathers every worker's
 * counters for the one worker that serves /metrics.
 */
import cluster, { type Worker } from 'node:cluster';
import { extname } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { loadGatewayConfig } from './config.js';
import { Gateway, GatewayStartError } from './gateway.js';
import type { MetricsSnapshot } from './metrics.js';

export interface GatewayWorkersOptions {
  workers: number;
  configPath: string;
  /** Each worker reloads when the config file changes. */
  watch: boolean;
  log: (message: string) => void;
}

export interface GatewayWorkers {
  /** The shared listener, e.g. `http://127.0.0.1:8480`. */
  url: string;
  metricsUrl: string | null;
  /** Every worker reads the config again (SIGHUP to each). */
  reload(): void;
  /** Stops every worker after its in-flight requests. */
  close(): Promise<void>;
}

type Message =
  | { t: 'warden-gateway:ready'; url: string; metricsUrl: string | null }
  | { t: 'warden-gateway:log'; text: string }
  | { t: 'warden-gateway:gather'; id: number }
  | { t: 'warden-gateway:snapshot?'; id: number }
  | { t: 'warden-gateway:snapshot'; id: number; snapshot: MetricsSnapshot }
  | { t: 'warden-gateway:gathered'; id: number; snapshots: MetricsSnapshot[] };

const GATHER_TIMEOUT_MS = 1000;
const METRICS_WORKER_ENV = 'WARDEN_GATEWAY_METRICS_WORKER';

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string' && (m as { t: string }).t.startsWith('warden-gateway:');
}

/** This process's Node flags without those that carry its own program (`-e`) or test-runner role, which would replace the worker's. */
function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(arg)) i++;
    else if (!/^(--eval|--print|--input-type|--test)/.test(arg)) out.push(arg);
  }
  return out;
}

/** Starts the workers; resolves once every one listens, rejects if one cannot start. */
export async function startGatewayWorkers(options: GatewayWorkersOptions): Promise<GatewayWorkers> {
  // The worker entry sits beside this file: .ts when run from source (tsx), .js from dist.
  const here = fileURLToPath(import.meta.url);
  // Each worker accepts on the shared socket itself. With round robin the primary hands every new
  // connection over, and one handed to a worker that has just died hangs until the client gives up.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({
    exec: fileURLToPath(new URL(`./gateway-worker${extname(here)}`, import.meta.url)),
    args: [options.configPath, options.watch ? 'watch' : 'no-watch'],
    execArgv: workerExecArgv(process.execArgv),
  });
  const live = new Set<Worker>();
  let metricsWorker: Worker | null = null;
  let stopping = false;
  let started = false;
  let nextGather = 0;
  const gathers = new Map<number, { from: Worker; replyId: number; snapshots: MetricsSnapshot[]; waiting: number; timer: NodeJS.Timeout }>();
  let onReady: (m: { url: string; metricsUrl: string | null }) => void = () => undefined;
  let onEarlyExit: (worker: Worker, code: number | null) => void = () => undefined;

  const finishGather = (id: number) => {
    const g = gathers.get(id);
    if (!g) return;
    gathers.delete(id);
    clearTimeout(g.timer);
    if (g.from.isConnected()) g.from.send({ t: 'warden-gateway:gathered', id: g.replyId, snapshots: g.snapshots } satisfies Message);
  };

  const onMessage = (worker: Worker, m: unknown) => {
    if (!isMessage(m)) return;
    if (m.t === 'warden-gateway:ready') onReady(m);
    else if (m.t === 'warden-gateway:log') process.stdout.write(m.text);
    else if (m.t === 'warden-gateway:gather') {
      const others = [...live].filter((w) => w !== worker && w.isConnected());
      const id = ++nextGather;
      gathers.set(id, { from: worker, replyId: m.id, snapshots: [], waiting: others.length, timer: setTimeout(() => finishGather(id), GATHER_TIMEOUT_MS) });
      if (others.length === 0) finishGather(id);
      for (const w of others) w.send({ t: 'warden-gateway:snapshot?', id } satisfies Message);
    } else if (m.t === 'warden-gateway:snapshot') {
      const g = gathers.get(m.id);
      if (!g) return;
      g.snapshots.push(m.snapshot);
      if (--g.waiting === 0) finishGather(m.id);
    }
  };

  const fork = (servesMetrics: boolean): Worker => {
    const worker = cluster.fork({ [METRICS_WORKER_ENV]: servesMetrics ? '1' : '' });
    live.add(worker);
    if (servesMetrics) metricsWorker = worker;
    worker.on('message', (m: unknown) => onMessage(worker, m));
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) return;
      if (!started) return onEarlyExit(worker, code);
      options.log(`gateway worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      fork(worker === metricsWorker);
    });
    return worker;
  };

  const stop = async () => {
    stopping = true;
    const exits = [...live].map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of live) w.process.kill('SIGTERM');
    await Promise.all(exits);
  };

  const first = await new Promise<{ url: string; metricsUrl: string | null }>((resolve, reject) => {
    let ready = 0;
    let metricsUrl: string | null = null;
    onReady = (m) => {
      metricsUrl ??= m.metricsUrl;
      if (++ready === options.workers) resolve({ url: m.url, metricsUrl });
    };
    onEarlyExit = (worker, code) => {
      void stop().then(() => reject(new GatewayStartError(`gateway worker ${worker.process.pid} could not start (exit ${code}); see its message above`)));
    };
    for (let i = 0; i < options.workers; i++) fork(i === 0);
  });
  started = true;
  return {
    ...first,
    reload: () => {
      for (const w of live) w.process.kill('SIGHUP');
    },
    close: stop,
  };
}

/**
 * Settings for a process that does nothing but run the gateway (`warden gateway` and each of its
 * workers; not a program that embeds the Gateway class). Under load V8 came to allocate some of the
 * gateway's per-request objects straight into the old generation (allocation-site pretenuring: it saw
 * them all alive at one young collection), so they were collected only by full mark-compacts, several a
 * second, at 4-10 ms each instead of 0.5 ms scavenges. Without it the gateway used about a fifth less
 * CPU per request (docs/benchmarks.md). The flag is read at each collection, so setting it now takes effect.
 */
export function tuneGatewayProcess(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

/** One worker's life: start a gateway, answer the primary, stop on SIGTERM/SIGINT. Returns the exit code. */
export async function runGatewayWorker(configPath: string, watch: boolean): Promise<number> {
  tuneGatewayProcess();
  const log = (line: string) => process.stderr.write(`warden: worker ${process.pid}: ${line}\n`);
  const send = (m: Message) => process.send?.(m);
  const servesMetrics = process.env[METRICS_WORKER_ENV] === '1';
  let nextGather = 0;
  const gathering = new Map<number, (snapshots: MetricsSnapshot[]) => void>();
  const metricsPeers = () =>
    new Promise<MetricsSnapshot[]>((resolve) => {
      const id = ++nextGather;
      const timer = setTimeout(() => gathering.delete(id) && resolve([]), 2 * GATHER_TIMEOUT_MS);
      gathering.set(id, (snapshots) => {
        clearTimeout(timer);
        resolve(snapshots);
      });
      send({ t: 'warden-gateway:gather', id });
    });
  // Access log lines for stdout go to the primary, batch by batch, so processes never split each other's lines.
  const toPrimary = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      process.send!({ t: 'warden-gateway:log', text: chunk.toString() } satisfies Message, undefined, undefined, (err) => callback(err ?? null));
    },
  });
  let gateway: Gateway;
  try {
    const config = loadGatewayConfig(configPath);
    gateway = await Gateway.start({
      config,
      configPath,
      watch,
      log,
      serveMetrics: servesMetrics,
      ...(servesMetrics ? { metricsPeers } : {}),
      ...(config.accessLog?.path === '-' ? { accessLog: toPrimary } : {}),
    });
  } catch (err) {
    log(`could not start: ${(err as Error).message}`);
    return 2;
  }
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    if (m.t === 'warden-gateway:snapshot?') send({ t: 'warden-gateway:snapshot', id: m.id, snapshot: gateway.metrics.snapshot() });
    else if (m.t === 'warden-gateway:gathered') {
      gathering.get(m.id)?.(m.snapshots);
      gathering.delete(m.id);
    }
  });
  process.on('SIGHUP', () => void gateway.reload());
  send({ t: 'warden-gateway:ready', url: gateway.url, metricsUrl: gateway.metricsUrl });
  // SIGINT reaches every process of a terminal's group; the primary's SIGTERM may follow: stop once.
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => resolve());
  });
  await gateway.close();
  return 0;
}
