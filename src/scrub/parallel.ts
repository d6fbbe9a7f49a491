import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import type { TransferListItem } from 'node:worker_threads';
import type { DetectorOptions, RuleSpec } from '../detect/index.js';
import { siblingWorker, WorkerPool, type WorkerPoolOptions } from '../workers/index.js';
import { IdleFlush, LineBatcher, type BatchContext, type BatchItem } from './line-batcher.js';
import type { MaskStyle } from './mask.js';
import { addStats, emptyStats, type ScrubFormat, type ScrubStats, type Scrubber } from './scrubber.js';
import { createScrubber, lineBatcherOptions, scrubBatches, withheldOutput, type BatchSpan, type ScrubOptions } from './stream.js';

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
  /** Consecutive batches, in an ArrayBuffer of their own, moved to the worker and back. */
  input: Uint8Array;
  /** Where each batch ends in `input`, and its context (copied to the worker). */
  batches: BatchSpan[];
  /** The rule of the private-key block open where the first batch starts. */
  openBlockBefore: string | undefined;
}

export interface BatchReply {
  input: Uint8Array;
  /** Undefined when nothing was redacted; it may share the input's buffer (written over it). */
  output: Uint8Array | undefined;
  stats: ScrubStats;
  openBlockAfter: string | undefined;
  /** The output is the same whatever block was open before the first batch (Scrubber.startsClearOfBlocks). */
  clearOfBlocks: boolean;
}

interface BatchResult {
  /** The batches' bytes, unless a worker wrote the output over them (then clearOfBlocks is true). */
  input: Uint8Array;
  clearOfBlocks?: boolean;
  /** `input` is one of this stream's request buffers: once scrubbed into an output of its own, it is reused. */
  owned?: boolean;
  batches: BatchSpan[];
  output: Uint8Array | undefined;
  stats: ScrubStats;
  openBlockBefore: string | undefined;
  openBlockAfter: string | undefined;
}

/** Requests in flight per thread: one scrubbed while the next waits, each several batches. */
const REQUESTS_PER_THREAD = 2;
/**
 * A request holds up to this many of the stream's batches: at one batch per message, two workers spent 40 %
 * more CPU than one thread on the same input, most of it on messages. Eight put a 2 GB scrub piped into a
 * slower reader over 200 MB at its peak; four kept it where one did (docs/benchmarks.md).
 */
const BATCHES_PER_REQUEST = 4;
const WORKER_MODULE = siblingWorker(import.meta.url, 'scrub-worker');

type ScrubWorkerPool = WorkerPool<WorkerSetup, BatchRequest, BatchReply>;

/** Scrub workers, as a shared pool and a stream of its own start them alike. */
function startWorkers(threads: number, setup: WorkerSetup, events: Pick<WorkerPoolOptions<WorkerSetup>, 'onReady' | 'onFailure'>): ScrubWorkerPool {
  return new WorkerPool({ name: 'scrub', module: WORKER_MODULE, threads, setup, queue: REQUESTS_PER_THREAD, ...events });
}

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
    this.workers = startWorkers(
      Math.max(1, threads ?? availableParallelism()),
      workerSetup(scrubber, options.format ?? 'auto'),
      onFailure ? { onFailure } : {},
    );
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

/** A request (or a withheld line's marker) waiting its turn to be written. */
interface Pending {
  /** A withheld line's marker. */
  output?: Buffer;
  /** Batches not yet handed to a thread: the first `length` bytes of `buffer`, one of this stream's. */
  request?: { buffer: Buffer; length: number; batches: BatchSpan[] };
  result?: BatchResult;
  error?: Error;
}

/**
 * `ScrubStream` on several threads, with the same output byte for byte. The batcher cuts the input as the
 * single-threaded stream does; this thread copies consecutive batches into a request (up to
 * BATCHES_PER_REQUEST; a batch cut for want of input sends the request at once, so a live stream's lines
 * wait for no more), `threads` workers scrub requests, a few each at a time (WorkerPool), and this thread
 * writes them strictly in input order as soon as each is ready. Once workers start, this thread scrubs
 * nothing (but a request that began inside a private-key block, below): while they compile the rules (a
 * tenth of a second) it would only take a core they need, and its own detector and the young generation
 * scrubbing grows would stay in memory to the end. At most REQUESTS_PER_THREAD requests per thread are in
 * flight before the next write waits, and a full readable side holds back the next write, so backpressure
 * from the consumer reaches the reader. Workers start only once a first batch fills: an input smaller than
 * a batch, or a live stream whose chunks never fill one, is scrubbed here, as fast as the single-threaded
 * stream.
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
  /** Requests in the queue no thread has taken yet, oldest first. */
  private readonly unsent: Pending[] = [];
  /** The request more batches may still join (the queue's last entry). */
  private filling: Pending | undefined;
  /** The rule of the block open where the head of the queue starts. */
  private openBlock: string | undefined;
  /** Request buffers to reuse, and the size each is made (room for BATCHES_PER_REQUEST batches and their output). */
  private readonly spare: ArrayBuffer[] = [];
  /**
   * Output chunks that are views of request buffers: only those are taken back (recycle). By chunk, not by
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
    const requestBytes = batcherOptions.batchBytes * BATCHES_PER_REQUEST;
    this.bufferBytes = requestBytes + (requestBytes >> 2);
    this.batcher = new LineBatcher(batcherOptions, (item) => this.enqueue(item));
    // Waiting lines are the batcher's and those of a request still filling: after a pause both go on.
    this.idle = new IdleFlush(
      {
        pending: () => this.batcher.pending() || this.filling !== undefined,
        flush: () => {
          this.batcher.flush();
          this.sendRequest();
        },
      },
      (err) => this.fail(err),
    );
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
    this.waitForRoom(this.threads * REQUESTS_PER_THREAD).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.idle.stop();
    try {
      this.batcher.end();
      this.sendRequest();
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
      this.sendRequest();
      this.queue.push({ output: withheldOutput(item, this.stats) });
    } else {
      if (!this.pool && !this.shared && item.filled)
        this.pool = startWorkers(this.threads, workerSetup(this.local, this.format), {
          onReady: () => this.dispatch(),
          onFailure: (err) => this.fail(err),
        });
      if (this.pool || this.shared) this.addToRequest(item.bytes, item.context, item.filled);
      else this.queue.push({ result: this.scrubHere(item.bytes, [{ length: item.bytes.length, context: item.context }], undefined, false) });
    }
    this.writeReady();
  }

  /**
   * Copies a batch into the request filling (a new one where there is none or it has no room left). The
   * request goes once it holds BATCHES_PER_REQUEST, or with a batch that did not fill (cut for want of input).
   */
  private addToRequest(bytes: Buffer, context: BatchContext, filled: boolean): void {
    let request = this.filling?.request;
    if (request && request.length + bytes.length > request.buffer.length) {
      this.sendRequest();
      request = undefined;
    }
    if (!request) {
      request = { buffer: this.requestBuffer(bytes.length), length: 0, batches: [] };
      this.filling = { request };
      this.queue.push(this.filling);
    }
    request.buffer.set(bytes, request.length);
    request.length += bytes.length;
    request.batches.push({ length: bytes.length, context });
    if (!filled || request.batches.length === BATCHES_PER_REQUEST) this.sendRequest();
  }

  /** Hands the request filling, if any, to the workers. */
  private sendRequest(): void {
    if (!this.filling) return;
    this.unsent.push(this.filling);
    this.filling = undefined;
    this.dispatch();
  }

  /**
   * Hands unsent requests to workers with room for them. A shared pool takes them all at once and sends each
   * when a worker has room: this stream hears of its own replies only, not of the others' that free room.
   */
  private dispatch(): void {
    const pool = this.pool;
    while (this.unsent.length && (this.shared || pool?.hasRoom)) {
      const entry = this.unsent.shift()!;
      const { buffer, length, batches } = entry.request!;
      entry.request = undefined;
      const request: BatchRequest = { input: buffer.subarray(0, length), batches, openBlockBefore: undefined };
      const transfer = [buffer.buffer as ArrayBuffer];
      (this.shared ? this.shared.scrub(request, transfer) : pool!.run(request, transfer)).then(
        (result) => {
          entry.result = { ...result, batches, openBlockBefore: undefined, owned: true };
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

  /** Scrubs batches on this thread; `owned`: their buffer is one of this stream's (see BatchResult). */
  private scrubHere(input: Uint8Array, batches: BatchSpan[], openBlockBefore: string | undefined, owned: boolean | undefined): BatchResult {
    this.local.stats = emptyStats();
    this.local.openBlockRule = openBlockBefore;
    const { output } = scrubBatches(this.local, input, batches);
    return { input, batches, output, stats: this.local.stats, openBlockBefore, openBlockAfter: this.local.openBlockRule, owned };
  }

  /** Pushes the ready requests at the head of the queue, in input order. */
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
      // Rare: a block stayed open past the batcher's limit. The request is scrubbed again from inside it,
      // unless its first line would close the block anyway.
      if (result.openBlockBefore !== this.openBlock && !result.clearOfBlocks)
        result = this.scrubHere(result.input, result.batches, this.openBlock, result.owned);
      this.queue.shift();
      this.openBlock = result.openBlockAfter;
      addStats(this.stats, result.stats);
      const out = result.output ?? result.input;
      const chunk = Buffer.from(out.buffer, out.byteOffset, out.length);
      if (result.owned && out.buffer === result.input.buffer) this.batchChunks.add(chunk);
      this.push(chunk);
      // The request went out scrubbed into a buffer of its own, so its buffer is free again.
      if (result.output && result.owned && result.output.buffer !== result.input.buffer) this.reuse(result.input.buffer as ArrayBuffer);
    }
    if (this.room && this.queue.length <= this.room.keep) {
      const { resolve } = this.room;
      this.room = undefined;
      resolve();
    }
  }

  /**
   * A buffer for a request of at least `length` bytes, in an ArrayBuffer of its own (it moves to a worker
   * and back without taking anything else along), all of it: a reused one where it fits. Reusing them keeps
   * this thread from leaving a trail of dead buffers (hundreds of MB a second) for the collector to find.
   */
  private requestBuffer(length: number): Buffer {
    const reused = length <= this.bufferBytes ? this.spare.pop() : undefined;
    return Buffer.from(reused ?? new ArrayBuffer(Math.max(length, this.bufferBytes)));
  }

  /**
   * Takes back an output chunk the consumer has written out and refers to no more, so its buffer, if it
   * is one of this stream's request buffers, holds a next request. Otherwise each one that goes out in its
   * own buffer leaves that buffer to the collector, which lets tens of MB of them pile up first.
   */
  recycle(chunk: Uint8Array): void {
    if (this.batchChunks.delete(chunk)) this.reuse(chunk.buffer as ArrayBuffer);
  }

  private reuse(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.bufferBytes && this.spare.length < this.threads * REQUESTS_PER_THREAD) this.spare.push(buffer);
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
