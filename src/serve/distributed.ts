/**
 * Distributed mode. `warden serve` cuts a run's targets into shards and publishes them on a NATS
 * JetStream work-queue stream; `warden worker` processes pull them through one durable consumer, scan,
 * write the results to the shared store keyed (run id, shard index), and only then acknowledge. A worker
 * that dies stops extending its ack wait, so its shard is redelivered to another; a shard that arrives
 * twice is written once. The serve side waits until every shard of the pass is in, or the deadline.
 */
import { AckPolicy, connect, nanos, RetentionPolicy, StorageType, type ConsumerConfig, type JsMsg, type NatsConnection, type StreamConfig } from 'nats';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DistributedConfig } from '../config/index.js';
import { WardenError } from '../errors.js';
import { hostPort } from '../host-port.js';
import { createTargetSet, scan, type ScanOptions } from '../scan/index.js';
import { createScrubber } from '../scrub/index.js';
import type { ScanPass, ScanRunner } from './daemon.js';
import { redactEvidence, type ServeHistory } from './history.js';

/** The scan settings a shard carries: everything in `ScanOptions` that survives JSON. */
export type ShardScanOptions = Pick<ScanOptions, 'ports' | 'sample' | 'timeoutMs' | 'defaultCredentials' | 'concurrency' | 'rate'>;

export interface ShardMessage {
  runId: string;
  index: number;
  inventory: string;
  /** Hosts, addresses or host:port, already expanded and with exclusions applied. */
  targets: string[];
  scan: ShardScanOptions;
}

export class QueueError extends WardenError {
  constructor(message: string) {
    super(message, 'SERVE_QUEUE', 3);
  }
}

/** How long the stream remembers a shard's message id, so enqueuing the same shard twice stores it once. */
const DUPLICATE_WINDOW_MS = 120_000;
/** How often the serve side looks for arrived shards. */
const POLL_MS = 250;

export const shardSubject = (config: DistributedConfig, runId: string, index: number) => `${config.subject}.${runId}.${index}`;

export function connectQueue(config: DistributedConfig): Promise<NatsConnection> {
  return connect({ servers: config.url, name: `warden@${hostname()}`, ...(config.token ? { token: config.token } : {}) }).catch((err: Error) => {
    throw new QueueError(`cannot reach NATS at ${config.url}: ${err.message}`);
  });
}

/** Creates (or brings up to date) the work-queue stream and the workers' durable pull consumer. Idempotent. */
export async function ensureWorkQueue(nc: NatsConnection, config: DistributedConfig): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const stream: Partial<StreamConfig> & { name: string } = {
    name: config.stream,
    subjects: [`${config.subject}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  try {
    await jsm.streams.add(stream);
  } catch {
    const existing = await jsm.streams.info(config.stream).catch(() => undefined);
    if (!existing) throw new QueueError(`cannot create the JetStream stream ${config.stream} (is JetStream enabled on ${config.url}?)`);
    if (existing.config.retention !== RetentionPolicy.Workqueue)
      throw new QueueError(`stream ${config.stream} exists but is not a work-queue stream; name another in distributed.stream`);
    await jsm.streams.update(config.stream, { ...existing.config, subjects: stream.subjects!, duplicate_window: stream.duplicate_window! });
  }
  const consumer: Partial<ConsumerConfig> = {
    durable_name: config.consumer,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(config.ackWaitMs),
    max_deliver: config.maxDeliver,
    filter_subject: `${config.subject}.>`,
  };
  try {
    await jsm.consumers.add(config.stream, consumer);
  } catch {
    await jsm.consumers.update(config.stream, config.consumer, { ack_wait: consumer.ack_wait!, max_deliver: consumer.max_deliver! });
  }
}

/** The targets of a scan as shards of at most `size`, expanded lazily (a /16 is never one list). */
export function* shardTargets(targets: string[], exclude: string[], size: number): Generator<string[]> {
  let shard: string[] = [];
  for (const t of createTargetSet(targets, exclude)) {
    shard.push(t.port === undefined ? t.host : hostPort(t.host, t.port));
    if (shard.length >= size) {
      yield shard;
      shard = [];
    }
  }
  if (shard.length) yield shard;
}

export interface DistributedRunner {
  runner: ScanRunner;
  close(): Promise<void>;
}

/**
 * The serve side: a `ScanRunner` that enqueues each pass of a run as shards, waits for their results in
 * the store, and purges what is left on the queue when the deadline passes or the daemon stops.
 */
export async function createDistributedRunner(options: {
  config: DistributedConfig;
  history: ServeHistory;
  log: (line: string) => void;
}): Promise<DistributedRunner> {
  const { config, history, log } = options;
  const nc = await connectQueue(config);
  try {
    await ensureWorkQueue(nc, config);
  } catch (err) {
    await nc.close();
    throw err;
  }
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const purge = (runId: string) =>
    jsm.streams
      .purge(config.stream, { filter: `${config.subject}.${runId}.>` })
      .catch((err: Error) => log(`could not purge the shards left of run ${runId}: ${err.message}`));

  const runner: ScanRunner = async (inventory, run, scanOptions): Promise<ScanPass> => {
    const shardScan: ShardScanOptions = {
      ...(scanOptions.ports ? { ports: scanOptions.ports } : {}),
      ...(scanOptions.sample !== undefined ? { sample: scanOptions.sample } : {}),
      ...(scanOptions.timeoutMs !== undefined ? { timeoutMs: scanOptions.timeoutMs } : {}),
      ...(scanOptions.defaultCredentials !== undefined ? { defaultCredentials: scanOptions.defaultCredentials } : {}),
      ...(scanOptions.concurrency !== undefined ? { concurrency: scanOptions.concurrency } : {}),
      ...(scanOptions.rate !== undefined ? { rate: scanOptions.rate } : {}),
    };
    const shards = [...shardTargets(scanOptions.targets, scanOptions.exclude ?? [], config.shardSize)];
    // Indexes continue across passes of one run (the scan, then the re-check), so each shard key is unique.
    const first = await history.addShards(run.id, shards.length);
    const end = first + shards.length;
    for (const [i, targets] of shards.entries()) {
      const message: ShardMessage = { runId: run.id, index: first + i, inventory: inventory.name, targets, scan: shardScan };
      await js.publish(shardSubject(config, run.id, first + i), JSON.stringify(message), { msgID: `${run.id}.${first + i}` });
    }
    log(`run ${run.id} (${inventory.name}): enqueued shards ${first}-${end - 1} on ${config.stream}`);
    const deadline = Date.now() + config.deadlineMs;
    let arrived = await history.countShards(run.id, first, end);
    while (arrived < shards.length && Date.now() < deadline && !scanOptions.signal?.aborted) {
      await sleep(POLL_MS);
      arrived = await history.countShards(run.id, first, end);
    }
    if (arrived < shards.length) await purge(run.id);
    const results = await history.shardResults(run.id, first, end);
    return {
      findings: results.flatMap((r) => r.findings),
      stats: { endpoints: results.reduce((n, r) => n + r.endpoints, 0), open: results.reduce((n, r) => n + r.openPorts, 0) },
      ...(arrived < shards.length ? { missingShards: { missing: shards.length - arrived, total: shards.length } } : {}),
    };
  };
  return { runner, close: () => nc.close() };
}

function parseShard(data: Uint8Array): ShardMessage | undefined {
  try {
    const m = JSON.parse(new TextDecoder().decode(data)) as ShardMessage;
    const ok =
      typeof m.runId === 'string' &&
      Number.isSafeInteger(m.index) &&
      typeof m.inventory === 'string' &&
      Array.isArray(m.targets) &&
      m.targets.every((t) => typeof t === 'string') &&
      typeof m.scan === 'object';
    return ok ? m : undefined;
  } catch {
    return undefined;
  }
}

export interface WorkerOptions {
  config: DistributedConfig;
  history: ServeHistory;
  /** Stops pulling; a shard in progress is handed back for immediate redelivery. */
  signal: AbortSignal;
  log?: (line: string) => void;
  /** Stop after this many shards (tests, and one-shot workers in batch jobs). */
  maxShards?: number;
  /** Default `host:pid`. */
  id?: string;
}

/** How a worker's shards ended, by outcome. */
export interface WorkerStats {
  recorded: number;
  /** Redeliveries of shards another delivery had already recorded: acknowledged, not counted again. */
  duplicates: number;
  /** Shards of runs that were no longer running. */
  dropped: number;
  failed: number;
}

/** `warden worker`: pulls shards until `signal` aborts (or `maxShards` are done). */
export async function runWorker(options: WorkerOptions): Promise<WorkerStats> {
  const { config, history, signal } = options;
  const log = options.log ?? (() => undefined);
  const id = options.id ?? `${hostname()}:${process.pid}`;
  const scrubber = createScrubber({ format: 'text' });
  const redact = (text: string) => scrubber.scrubLines(text);
  const stats: WorkerStats = { recorded: 0, duplicates: 0, dropped: 0, failed: 0 };
  const nc = await connectQueue(config);
  try {
    await ensureWorkQueue(nc, config);
    const consumer = await nc.jetstream().consumers.get(config.stream, config.consumer);
    log(`worker ${id} pulling shards from ${config.stream} (consumer ${config.consumer})`);
    const handled = () => stats.recorded + stats.duplicates + stats.dropped + stats.failed;
    while (!signal.aborted && (options.maxShards === undefined || handled() < options.maxShards)) {
      const m = await consumer.next({ expires: 2000 });
      if (!m) continue;
      await handleShard(m);
    }
  } finally {
    await nc.close();
  }
  return stats;

  async function handleShard(m: JsMsg): Promise<void> {
    const shard = parseShard(m.data);
    if (!shard) {
      m.term('not a Warden shard');
      stats.dropped++;
      return log(`dropped a message on ${m.subject} that is not a Warden shard`);
    }
    const label = `shard ${shard.index} of run ${shard.runId} (${shard.inventory})`;
    const run = await history.run(shard.runId);
    if (run?.status !== 'running') {
      m.term('run is not running');
      stats.dropped++;
      return log(`${label}: dropped, the run is ${run ? run.status : 'unknown'}`);
    }
    if (await history.hasShard(shard.runId, shard.index)) {
      await m.ackAck();
      stats.duplicates++;
      return log(`${label}: already recorded; acknowledged without scanning again`);
    }
    const delivery = m.info.deliveryCount;
    log(`${label}: scanning ${shard.targets.length} target${shard.targets.length === 1 ? '' : 's'} (delivery ${delivery})`);
    // While this process lives it keeps the shard; once it dies the ack wait runs out and another worker gets it.
    const keep = setInterval(() => m.working(), Math.max(250, Math.floor(config.ackWaitMs / 3)));
    const scanAbort = new AbortController();
    const stop = () => scanAbort.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      const report = await scan({ ...shard.scan, targets: shard.targets, signal: scanAbort.signal });
      if (scanAbort.signal.aborted) {
        m.nak();
        return log(`${label}: stopping; handed back for redelivery`);
      }
      const findings = report.findings.map((f) => ({
        ...f,
        evidence: redactEvidence(f.evidence, redact),
        ...(f.reproduce ? { reproduce: redact(f.reproduce) } : {}),
      }));
      const recorded = await history.recordShard({
        runId: shard.runId,
        index: shard.index,
        worker: id,
        delivery,
        endpoints: report.stats.endpoints,
        openPorts: report.stats.open,
        findings,
        completedAt: Date.now(),
      });
      // Acknowledged only once the results are committed: a crash before this line means redelivery, not loss.
      await m.ackAck();
      if (recorded) stats.recorded++;
      else stats.duplicates++;
      log(
        `${label}: ${recorded ? 'recorded' : 'another delivery recorded it first; not counted again'}: ${report.stats.endpoints} endpoints, ${findings.length} finding${findings.length === 1 ? '' : 's'}`,
      );
    } catch (err) {
      stats.failed++;
      // Back off before the next delivery so a failing store is not hammered; the deadline bounds the run.
      m.nak(Math.min(config.ackWaitMs, 5000));
      log(`${label}: failed (${(err as Error).message}); handed back for redelivery`);
    } finally {
      clearInterval(keep);
      signal.removeEventListener('abort', stop);
    }
  }
}
