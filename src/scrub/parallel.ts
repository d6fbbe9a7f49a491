import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import type { TransferListItem } from 'node:worker_threads';
import type { DetectorOptions, RuleSpec } from '../detect/index.js';
import { siblingWorker, WorkerPool } from '../workers/index.js';
import { IdleFlush, LineBatcher, type BatchContext, type BatchItem } from './line-batcher.js';
import type { MaskStyle } from './mask.js';
import { addStats, emptyStats, type ScrubFormat, type ScrubStats, type Scrubber } from './scrubber.js';
import { createScrubber, lineBatcherOptions, scrubBatch, withheldOutput, type ScrubOptions } from './stream.js';

export interface ParallelScrubOptions extends ScrubOptions {
  /** Worker threads that scrub batches while this one reads and writes; default the number of cores. */
  threads?: number;
  /** Only with a shared pool: see SharedPoolScrubOptions. */
  pool?: never;
}

/**
 * A stream on a shared pool takes every scrub option from the pool, which built its workers from them: a
 * stream cannot ask for options the workers do not scrub with.
 */
export type SharedPoolScrubOptions = { pool: ScrubPool } & { [K in Exclude<keyof ParallelScrubOptions, 'pool'>]?: never };

/** What a worker is built from: plain data, cloned into it. */
export interface WorkerSetup {
  detector: { specs: RuleSpec[]; options: DetectorOptions };
  format: ScrubFormat;
  mask: MaskStyle;
  fingerprintKey?: Uint8Array;
  keepLines: string[];
}

export interface BatchRequest {
  /** The batch's bytes, in an ArrayBuffer of their own, moved to the worker and back. */
  input: Uint8Array;
  /** The lines around it, read with it (copied to the worker). */
  context: BatchContext;
  /** The rule of the private-key block open where the batch starts. */
  openBlockBefore: string | undefined;
}

export interface BatchReply {
  input: Uint8Array;
  /** Undefined when nothing was redacted; it may share the input's buffer (written over it). */
  output: Uint8Array | undefined;
  stats: ScrubStats;
  openBlockAfter: string | undefined;
  /** The output is the same whatever block was open before the batch (Scrubber.startsClearOfBlocks). */
  clearOfBlocks: boolean;
}

interface BatchResult {
  /** The batch's bytes, unless a worker wrote the output over them (then clearOfBlocks is true). */
  input: Uint8Array;
  clearOfBlocks?: boolean;
  /** `input` is one of this stream's batch buffers: once scrubbed into an output of its own, it is reused. */
  owned?: boolean;
  context: BatchContext;
  output: Uint8Array | undefined;
  stats: ScrubStats;
  openBlockBefore: string | undefined;
  openBlockAfter: string | undefined;
}

/** Batches in flight per thread: enough to keep each busy while the writer waits on the oldest. */
const BATCHES_PER_THREAD = 4;
const WORKER_MODULE = siblingWorker(import.meta.url, 'scrub-worker');

type ScrubWorkerPool = WorkerPool<WorkerSetup, BatchRequest, BatchReply>;

/** What workers build a scrubber like `scrubber` from. */
function workerSetup(scrubber: Scrubber, format: ScrubFormat): WorkerSetup {
  const key = scrubber.mask.fingerprintKey;
  return {
    detector: scrubber.detector.definition,
    format,
    mask: scrubber.mask.style,
    ...(key ? { fingerprintKey: new Uint8Array(key) } : {}),
    keepLines: [...scrubber.keepLines],
  };
}

/** A scrub worker failed on a shared pool: the batch was not scrubbed (a server answers 5xx, not 4xx). */
export class ScrubWorkerError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = 'ScrubWorkerError';
  }
}

export interface ScrubPoolOptions extends ScrubOptions {
  /** Default one per core. */
  threads?: number;
  /** Called once, when a worker fails or exits: every batch waiting on the pool, and every later one, fails with it. */
  onFailure?: (err: Error) => void;
}

/**
 * Scrub workers that live longer than a stream, for a server that scrubs many inputs (the ingest point):
 * streams made with `{ pool }` send their batches here and leave the pool open. The scrub options are
 * fixed here, once: the fingerprint key is read and the keep list taken in now, not per stream.
 */
export class ScrubPool {
  /** What every stream on this pool scrubs with: the options the workers were built from. */
  readonly options: Readonly<ScrubOptions>;
  /** Settles when a first worker is ready (it rejects if the pool fails first). */
  readonly ready: Promise<void>;
  private readonly workers: ScrubWorkerPool;

  constructor({ threads, onFailure, ...options }: ScrubPoolOptions = {}) {
    const scrubber = createScrubber(options);
    const key = scrubber.mask.fingerprintKey;
    this.options = { ...options, detector: scrubber.detector, keepLines: [...scrubber.keepLines], ...(key ? { fingerprintKey: key } : {}) };
    this.workers = new WorkerPool({
      name: 'scrub',
      module: WORKER_MODULE,
      threads: Math.max(1, threads ?? availableParallelism()),
      setup: workerSetup(scrubber, options.format ?? 'auto'),
      ...(onFailure ? { onFailure } : {}),
    });
    this.ready = this.workers.whenReady();
    // Nobody may be waiting for it: a failure reaches onFailure and the batches either way.
    this.ready.catch(() => {});
  }

  get threads(): number {
    return this.workers.threads;
  }

  /** Scrubs a batch once a worker has room: another stream's reply may be what makes it. */
  scrub(request: BatchRequest, transfer: readonly TransferListItem[]): Promise<BatchReply> {
    return this.workers.send(request, transfer).catch((err: Error) => {
      throw new ScrubWorkerError(err);
    });
  }

  close(): Promise<void> {
    return this.workers.close();
  }
}

/** A batch (or a withheld line's marker) waiting its turn to be written. */
interface Pending {
  /** A withheld line's marker. */
  output?: Buffer;
  /** A batch not yet handed to a thread. */
  input?: Buffer;
  /** `input` is one of this stream's batch buffers: it moves to a worker without a copy. */
  owned?: boolean;
  context?: BatchContext;
  result?: BatchResult;
  error?: Error;
}

/**
 * `ScrubStream` on several threads, with the same output byte for byte. The batcher cuts the input as the
 * single-threaded stream does; `threads` workers scrub batches, a few each at a time (WorkerPool), while
 * this thread reads, hands batches out and writes them strictly in input order as soon as each is ready.
 * Once workers start, this thread scrubs nothing (but a batch that began inside a private-key block, below):
 * while they compile the rules (a tenth of a second) it would only take a core they need, and its own
 * detector and the young generation scrubbing grows would stay in memory to the end. At most
 * BATCHES_PER_THREAD batches per thread are in flight before the next write waits, and a full readable
 * side holds back the next write, so backpressure from the consumer reaches the reader. Workers start only
 * once a first batch fills: an input smaller than a batch, or a live stream whose chunks never fill one, is
 * scrubbed here, as fast as the single-threaded stream.
 *
 * On a shared pool (`{ pool }`, a ScrubPool) the workers are running already, so every batch goes to them;
 * they are the pool's, not the stream's, so it leaves them open, and it waits for room on them (other
 * streams' replies free it, not only its own).
 *
 * The one state that crosses lines, an open private-key block, crosses batches exactly: every batch is
 * scrubbed as if no block were open where it starts (the batcher keeps blocks whole, so that is the rule)
 * and reports the block open where it ends; the writer scrubs a batch that began inside one again, here.
 */
export class ParallelScrubStream extends Transform {
  readonly stats: ScrubStats = emptyStats();
  private readonly local: Scrubber;
  private readonly batcher: LineBatcher;
  private readonly idle: IdleFlush;
  private readonly threads: number;
  private readonly format: ScrubFormat;
  /** Workers this stream started, and closes. */
  private pool: ScrubWorkerPool | undefined;
  private readonly shared: ScrubPool | undefined;
  private readonly queue: Pending[] = [];
  /** Batches in the queue no thread has taken yet, oldest first. */
  private readonly unsent: Pending[] = [];
  /** The rule of the block open where the head of the queue starts. */
  private openBlock: string | undefined;
  /** Batch buffers to reuse, and the size each is made (a batch passes its size by one line at most, mostly). */
  private readonly spare: ArrayBuffer[] = [];
  /**
   * Output chunks that are views of batch buffers: only those are taken back (recycle). By chunk, not by
   * buffer: a buffer that went to a worker and back is another ArrayBuffer object.
   */
  private readonly batchChunks = new WeakSet<Uint8Array>();
  private readonly bufferBytes: number;
  /** Waits for the queue to shrink to `keep` entries. */
  private room: { keep: number; resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(streamOptions: ParallelScrubOptions | SharedPoolScrubOptions = {}) {
    super();
    this.shared = streamOptions.pool;
    const options: ScrubOptions = this.shared?.options ?? streamOptions;
    this.threads = this.shared?.threads ?? Math.max(1, streamOptions.threads ?? availableParallelism());
    this.local = createScrubber(options);
    this.format = options.format ?? 'auto';
    const batcherOptions = lineBatcherOptions(options, this.local);
    this.bufferBytes = batcherOptions.batchBytes + (batcherOptions.batchBytes >> 2);
    this.batcher = new LineBatcher({ ...batcherOptions, allocate: (length) => this.batchBuffer(length) }, (item) => this.enqueue(item));
    this.idle = new IdleFlush(this.batcher, (err) => this.fail(err));
  }

  /** Worker threads running now: none until a first batch fills (a shared pool's are always running). */
  get workers(): number {
    return this.pool || this.shared ? this.threads : 0;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.batcher.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      this.idle.arm();
    } catch (err) {
      done(err as Error);
      return;
    }
    this.waitForRoom(this.threads * BATCHES_PER_THREAD).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.idle.stop();
    try {
      this.batcher.end();
    } catch (err) {
      done(err as Error);
      return;
    }
    this.waitForRoom(0)
      .then(() => this.closePool())
      .then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.idle.stop();
    this.closePool().then(
      () => done(err),
      () => done(err),
    );
  }

  private closePool(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    return pool ? pool.close() : Promise.resolve();
  }

  private enqueue(item: BatchItem): void {
    if (item.kind === 'withheld') {
      this.queue.push({ output: withheldOutput(item, this.stats) });
    } else {
      if (!this.pool && !this.shared && item.filled)
        this.pool = new WorkerPool({
          name: 'scrub',
          module: WORKER_MODULE,
          threads: this.threads,
          setup: workerSetup(this.local, this.format),
          onReady: () => this.dispatch(),
          onFailure: (err) => this.fail(err),
        });
      if (this.pool || this.shared) {
        const entry: Pending = { input: item.bytes, owned: item.owned, context: item.context };
        this.queue.push(entry);
        this.unsent.push(entry);
        this.dispatch();
      } else {
        this.queue.push({ result: this.scrubHere(item.bytes, item.context, undefined, item.owned) });
      }
    }
    this.writeReady();
  }

  /**
   * Hands unsent batches to workers with room for them. A shared pool takes them all at once and sends each
   * when a worker has room: this stream hears of its own replies only, not of the others' that free room.
   */
  private dispatch(): void {
    const pool = this.pool;
    while (this.unsent.length && (this.shared || pool?.hasRoom)) {
      const entry = this.unsent.shift()!;
      const input = entry.owned ? entry.input! : this.batchBuffer(entry.input!.length);
      if (!entry.owned) input.set(entry.input!);
      entry.input = undefined;
      const context = entry.context!;
      const request: BatchRequest = { input, context, openBlockBefore: undefined };
      const transfer = [input.buffer as ArrayBuffer];
      (this.shared ? this.shared.scrub(request, transfer) : pool!.run(request, transfer)).then(
        (result) => {
          entry.result = { ...result, context, openBlockBefore: undefined, owned: true };
          this.dispatch();
          this.writeReady();
        },
        (err: Error) => {
          entry.error = err;
          this.writeReady();
        },
      );
    }
  }

  /** Scrubs a batch on this thread; `owned`: its buffer is one of this stream's (see BatchResult). */
  private scrubHere(input: Uint8Array, context: BatchContext, openBlockBefore: string | undefined, owned: boolean | undefined): BatchResult {
    this.local.stats = emptyStats();
    this.local.openBlockRule = openBlockBefore;
    const { output } = scrubBatch(this.local, input, context);
    return { input, context, output, stats: this.local.stats, openBlockBefore, openBlockAfter: this.local.openBlockRule, owned };
  }

  /** Pushes the ready batches at the head of the queue, in input order. */
  private writeReady(): void {
    while (this.queue.length) {
      const head = this.queue[0]!;
      if (head.error) {
        this.fail(head.error);
        return;
      }
      if (head.output) {
        this.queue.shift();
        this.push(head.output);
        continue;
      }
      let result = head.result;
      if (!result) break;
      // Rare: a block stayed open past the batcher's limit. The batch is scrubbed again from inside it,
      // unless its first line would close the block anyway.
      if (result.openBlockBefore !== this.openBlock && !result.clearOfBlocks)
        result = this.scrubHere(result.input, result.context, this.openBlock, result.owned);
      this.queue.shift();
      this.openBlock = result.openBlockAfter;
      addStats(this.stats, result.stats);
      const out = result.output ?? result.input;
      const chunk = Buffer.from(out.buffer, out.byteOffset, out.length);
      if (result.owned && out.buffer === result.input.buffer) this.batchChunks.add(chunk);
      this.push(chunk);
      // The batch went out scrubbed into a buffer of its own, so its buffer is free again.
      if (result.output && result.owned && result.output.buffer !== result.input.buffer) this.reuse(result.input.buffer as ArrayBuffer);
    }
    if (this.room && this.queue.length <= this.room.keep) {
      const { resolve } = this.room;
      this.room = undefined;
      resolve();
    }
  }

  /**
   * A buffer for a batch of `length` bytes, in an ArrayBuffer of its own (it moves to a worker and back
   * without taking anything else along): a reused one where it fits. Reusing them keeps this thread from
   * leaving a trail of dead batch buffers (hundreds of MB a second) for the collector to find.
   */
  private batchBuffer(length: number): Buffer {
    const reused = length <= this.bufferBytes ? this.spare.pop() : undefined;
    return Buffer.from(reused ?? new ArrayBuffer(Math.max(length, this.bufferBytes)), 0, length);
  }

  /**
   * Takes back an output chunk the consumer has written out and refers to no more, so its buffer, if it
   * is one of this stream's batch buffers, holds a next batch. Otherwise each batch that goes out in its
   * own buffer leaves that buffer to the collector, which lets tens of MB of them pile up first.
   */
  recycle(chunk: Uint8Array): void {
    if (this.batchChunks.delete(chunk)) this.reuse(chunk.buffer as ArrayBuffer);
  }

  private reuse(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.bufferBytes && this.spare.length < this.threads * BATCHES_PER_THREAD) this.spare.push(buffer);
  }

  private waitForRoom(keep: number): Promise<void> {
    if (this.queue.length <= keep) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.room = { keep, resolve, reject };
    });
  }

  private fail(err: Error): void {
    const room = this.room;
    this.room = undefined;
    if (room) room.reject(err);
    else this.destroy(err);
  }
}

/**
 * Below this much input, known ahead (regular files), one thread scrubs faster than several: starting a
 * worker and warming its code up made two workers on two cores slower than one thread at 100 MB (docs/benchmarks.md).
 */
export const WORKERS_FROM_BYTES = 256 * 1024 * 1024;

/** The default thread count: one per core, or 1 for an input known to be smaller than WORKERS_FROM_BYTES. */
export function defaultScrubThreads(inputBytes?: number): number {
  return inputBytes !== undefined && inputBytes < WORKERS_FROM_BYTES ? 1 : availableParallelism();
}

export function createParallelScrubStream(options: ParallelScrubOptions | SharedPoolScrubOptions = {}): ParallelScrubStream {
  return new ParallelScrubStream(options);
}

/** Scrub workers for many streams: pass `{ pool }` to createParallelScrubStream; close it when done. */
export function createScrubPool(options: ScrubPoolOptions = {}): ScrubPool {
  return new ScrubPool(options);
}
