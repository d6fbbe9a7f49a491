import { parentPort, Worker, workerData, type ResourceLimits, type TransferListItem } from 'node:worker_threads';

/** A worker's first message: it has built what it needs (the rules compiled), so requests sent now start at once. */
const WORKER_READY = 'ready';

/** Requests a worker may have waiting: enough to keep it busy between replies, few enough to spread work. */
const DEFAULT_QUEUE = 4;

/**
 * Default bounds on a worker's heap. V8 grows a heap lazily while its limit is far off: left at the
 * defaults, each worker's young generation grows to tens of MB (every object that survives a collection
 * counts towards growing it) and its old generation collects late, so the peak memory of a scrub grew with
 * the input. With bounds V8 collects sooner. The young generation stays at 6 MB though a scrub worker spends
 * about a sixth of its time in scavenges there: at 12 MB two workers scrubbed a tenth faster, but a 2 GB
 * scrub piped into a slower reader peaked at 214 MB, over the 200 MB a scrub may take (docs/benchmarks.md).
 * The old-generation bound is above what a scrub batch needs with the longest line allowed (8 MB by
 * default) dense with keywords, escapes or JSON fields; a worker that still runs out fails its work with
 * an error (nothing passes unread).
 */
const DEFAULT_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 6, maxOldGenerationSizeMb: 256 };

interface Envelope<Reply> {
  id: number;
  reply?: Reply;
  error?: string;
}

interface Slot {
  worker: Worker;
  busy: number;
  ready: boolean;
}

export interface WorkerPoolOptions<Setup> {
  /** The worker's module (a sibling .ts file under tsx, .js when built): it calls `answerRequests`. */
  module: URL;
  threads: number;
  /** Plain data the worker builds itself from, cloned into it. */
  setup: Setup;
  /** Requests each worker may have waiting (default 4). */
  queue?: number;
  /** Called when a worker becomes ready. */
  onReady?: () => void;
  /** Called when a worker fails or exits: every request waiting fails with it, and so does every later one. */
  onFailure?: (err: Error) => void;
  /** Heap bounds for each worker (default DEFAULT_LIMITS). */
  limits?: ResourceLimits;
  /** Names the pool in errors ("scrub worker: ..."). */
  name: string;
}

/**
 * Worker threads that each build the same state from `setup` (a detector, a scrubber) and answer requests
 * one at a time, in order. One pool type serves every capability that runs the detection engine on more
 * than one core: scrubbing, `warden detect`, triage and the ingest point.
 */
export class WorkerPool<Setup, Request, Reply> {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  /** Callers waiting in `send` for room, or in `whenReady`: woken by each reply and each ready worker. */
  private readonly waiters: Array<() => void> = [];
  private readonly queue: number;
  private nextId = 0;
  private closing = false;
  private failure: Error | undefined;

  constructor(private readonly options: WorkerPoolOptions<Setup>) {
    this.queue = options.queue ?? DEFAULT_QUEUE;
    for (let i = 0; i < Math.max(1, options.threads); i++) {
      const worker = startWorker(options.module, options.setup, options.limits ?? DEFAULT_LIMITS);
      const slot: Slot = { worker, busy: 0, ready: false };
      worker.on('message', (message: Envelope<Reply> | typeof WORKER_READY) => {
        if (message === WORKER_READY) {
          slot.ready = true;
          options.onReady?.();
          this.wake();
          return;
        }
        slot.busy--;
        const waiter = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(`${options.name} worker: ${message.error}`));
        else waiter?.resolve(message.reply as Reply);
        this.wake();
      });
      worker.on('error', (err) => this.failAll(err));
      worker.on('exit', (code) => {
        if (!this.closing) this.failAll(new Error(`${options.name} worker exited with code ${code}`));
      });
      this.slots.push(slot);
    }
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Whether a worker has built its state. */
  get ready(): boolean {
    return this.slots.some((w) => w.ready);
  }

  /** Whether a ready worker has room for another request now. */
  get hasRoom(): boolean {
    return this.withRoom() !== undefined;
  }

  /** The ready worker with the fewest requests waiting, if it has room for another. */
  private withRoom(): Slot | undefined {
    // A failed pool has room for nothing: a caller that can do the work itself (DetectionPool) goes on alone.
    if (this.failure) return undefined;
    let best: Slot | undefined;
    for (const w of this.slots) if (w.ready && w.busy < this.queue && (!best || w.busy < best.busy)) best = w;
    return best;
  }

  /**
   * Sends `request` to the ready worker with the fewest waiting (call when hasRoom); `transfer` moves buffers
   * instead of copying them. The answer comes back in the order that worker received its requests.
   */
  run(request: Request, transfer: readonly TransferListItem[] = []): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.withRoom();
    if (!slot) return Promise.reject(new Error(`${this.options.name} pool: no worker has room`));
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    slot.busy++;
    slot.worker.postMessage({ id, request }, [...transfer]);
    return reply;
  }

  /**
   * `run`, once a worker has room: a caller that awaits each `send` before reading on is held back
   * (backpressure). The check and the send happen together, so callers waiting at once never overfill a worker.
   */
  send(request: Request, transfer: readonly TransferListItem[] = []): Promise<Reply> {
    return this.once(
      () => this.hasRoom,
      () => this.run(request, transfer),
    );
  }

  /** Resolves once a worker has built its state; rejects if the pool failed first. */
  whenReady(): Promise<void> {
    return this.once(
      () => this.ready,
      () => undefined,
    );
  }

  /**
   * `then()` as soon as `holds()` (checked again whenever a reply or a ready worker wakes the waiters), in
   * the same step as that check, so a caller woken with others cannot lose what it saw; rejects once the
   * pool has failed.
   */
  private async once<T>(holds: () => boolean, then: () => T): Promise<Awaited<T>> {
    while (!holds()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return await then();
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Stops the workers; a request still waiting, or sent later, fails (it will not be answered). */
  async close(): Promise<void> {
    this.closing = true;
    this.stop(new Error(`${this.options.name} pool closed`));
    await Promise.all(this.slots.map((w) => w.worker.terminate()));
  }

  /** A worker failed or exited (a failing worker reports both): said once, to every waiting request and to onFailure. */
  private failAll(err: Error): void {
    if (this.closing || this.failure) return;
    this.stop(err);
    this.options.onFailure?.(err);
  }

  /** From now on every request fails with `err`: those waiting for a reply, for room, and any later one. */
  private stop(err: Error): void {
    this.failure ??= err;
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
    this.wake();
  }
}

/** From source (under tsx) the worker is a .ts file, which the worker has tsx load first. */
function startWorker(module: URL, setup: unknown, resourceLimits: ResourceLimits): Worker {
  if (!module.pathname.endsWith('.ts')) return new Worker(module, { workerData: setup, resourceLimits });
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const code = `import(${tsx}).then(({ register }) => { register(); return import(${JSON.stringify(module.href)}); });`;
  return new Worker(code, { eval: true, workerData: setup, resourceLimits });
}

/** The sibling worker module of `importMetaUrl` named `name`: .ts under tsx, .js when built. */
export function siblingWorker(importMetaUrl: string, name: string): URL {
  return new URL(`./${name}${importMetaUrl.endsWith('.ts') ? '.ts' : '.js'}`, importMetaUrl);
}

/**
 * The worker's side: builds its state from the pool's setup, then answers each request with `answer`'s
 * result; the buffers `transferOf` names move back instead of being copied. A request that throws is
 * answered with its error, and the worker goes on.
 */
export function answerRequests<Setup, Request, Reply>(
  build: (setup: Setup) => (request: Request) => Reply,
  transferOf: (reply: Reply) => TransferListItem[] = () => [],
): void {
  const answer = build(workerData as Setup);
  parentPort!.on('message', ({ id, request }: { id: number; request: Request }) => {
    try {
      const reply = answer(request);
      parentPort!.postMessage({ id, reply } satisfies Envelope<Reply>, transferOf(reply));
    } catch (err) {
      parentPort!.postMessage({ id, error: (err as Error).message } satisfies Envelope<Reply>);
    }
  });
  parentPort!.postMessage(WORKER_READY);
}
