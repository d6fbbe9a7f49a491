import { availableParallelism } from 'node:os';
import type { Detector, DetectorOptions } from './engine.js';
import type { RawFragment } from './files/fragments.js';
import type { FileFinding } from './files/types.js';
import type { RuleSpec, SecretMatch } from './types.js';
import { siblingWorker, WorkerPool } from '../workers/index.js';

/** What a detection worker is built from: plain data, cloned into it. */
export interface DetectionSetup {
  detector: { specs: RuleSpec[]; options: DetectorOptions };
  fingerprintKey: Uint8Array;
}

export type DetectionRequest =
  | { kind: 'fragment'; fragment: RawFragment }
  | { kind: 'structure'; path: string; text: string; lineFindings: FileFinding[]; under: string[] }
  | { kind: 'scan'; texts: string[] };

export type DetectionReply = FileFinding[] | SecretMatch[][];

/**
 * Below this many characters read, work stays on the calling thread: a worker takes about a tenth of a
 * second to start and compile the rules, which a small folder or file does not repay.
 */
export const DETECTION_WORKERS_FROM_CHARS = 32 * 1024 * 1024;

export interface DetectionPoolOptions {
  detector: Detector;
  fingerprintKey: Buffer;
  /** Threads the detector runs on, the calling one included (default one per core); 1: no workers. */
  threads?: number;
  /** Characters to read on this thread before workers start (default DETECTION_WORKERS_FROM_CHARS). */
  workersFromChars?: number;
}

const WORKER_MODULE = siblingWorker(import.meta.url, 'pool-worker');

/**
 * The finder's modules, for work done on this thread, loaded on first use: a scrub reaches this module
 * through the detect index and never needs them (with them, its start took 18 ms longer).
 */
const importFinder = () => Promise.all([import('./files/locate.js'), import('./files/fragments.js')]);
let finderModules: ReturnType<typeof importFinder> | undefined;
function loadFinder(): ReturnType<typeof importFinder> {
  return (finderModules ??= importFinder());
}

/**
 * A young generation of 16 MB, not the pool's default 6: detection makes more short-lived objects per byte
 * than a scrub (a string per fragment, findings), and with 6 MB a 200 MB file took a sixth longer (timed by
 * hand), in collections.
 */
const DETECTION_WORKER_LIMITS = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 512 };

/**
 * The detection engine on several cores, for callers that read a lot of text (`warden detect`, triage).
 * Each call answers as the detector would on this thread; which thread ran it does not show. `threads`
 * counts this thread: it keeps working beside `threads - 1` workers, taking whatever finds no worker with
 * room, so it never waits idle for them, and only one fewer worker has to start cold and warm up (timed
 * by hand on this machine: a 1 GB file in 3.3 s, where two workers took 3.9 s and one thread 4 s). Work
 * stays here until `workersFromChars` characters have passed and until a worker is ready. When a worker
 * fails, what was sent to the workers fails with it (a file read in part is noted, a triage batch not
 * searched is an error), and later calls run here.
 */
export class DetectionPool {
  private pool: WorkerPool<DetectionSetup, DetectionRequest, DetectionReply> | undefined;
  private readonly threads: number;
  private readonly workersFromChars: number;
  private chars = 0;

  constructor(private readonly options: DetectionPoolOptions) {
    this.threads = Math.max(1, options.threads ?? availableParallelism());
    this.workersFromChars = options.workersFromChars ?? DETECTION_WORKERS_FROM_CHARS;
  }

  /** Worker threads running now (`threads - 1`): none until enough text has passed. */
  get workers(): number {
    return this.pool?.threads ?? 0;
  }

  /** `findInFragment` of the decoded fragment: its findings. Its bytes move to the worker that reads them. */
  async findInFragment(fragment: RawFragment): Promise<FileFinding[]> {
    const pool = this.poolFor(fragment.bytes.length);
    if (!pool) {
      const [{ findInFragment }, { decodeFragment }] = await loadFinder();
      return findInFragment(this.options.detector, decodeFragment(fragment), this.options.fingerprintKey);
    }
    return (await pool.run({ kind: 'fragment', fragment }, [fragment.bytes.buffer as ArrayBuffer])) as FileFinding[];
  }

  /** `findInStructure`: what only a whole file shows. */
  async findInStructure(path: string, text: string, lineFindings: FileFinding[], under: string[] = []): Promise<FileFinding[]> {
    const pool = this.poolFor(text.length);
    if (!pool) {
      const [{ findInStructure }] = await loadFinder();
      return findInStructure(this.options.detector, path, text, this.options.fingerprintKey, lineFindings, under);
    }
    return (await pool.run({ kind: 'structure', path, text, lineFindings, under })) as FileFinding[];
  }

  /** `Detector.scan` of each text (a batch of rows), in order. */
  async scan(texts: string[]): Promise<SecretMatch[][]> {
    let chars = 0;
    for (const t of texts) chars += t.length;
    const pool = this.poolFor(chars);
    if (!pool) return texts.map((t) => this.options.detector.scan(t));
    return (await pool.run({ kind: 'scan', texts })) as SecretMatch[][];
  }

  /** Starts the workers now, whatever has been read, and resolves once one is ready (a long-lived caller, a test). */
  async start(): Promise<void> {
    if (this.threads === 1) return;
    await this.started().whenReady();
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }

  /** The pool to run `chars` characters of work on now (a worker has room); undefined: do it here. */
  private poolFor(chars: number): WorkerPool<DetectionSetup, DetectionRequest, DetectionReply> | undefined {
    this.chars += chars;
    if (this.threads === 1 || (!this.pool && this.chars < this.workersFromChars)) return undefined;
    const pool = this.started();
    // A worker with room takes the call; with none, it is done here rather than waited for.
    return pool.hasRoom ? pool : undefined;
  }

  private started(): WorkerPool<DetectionSetup, DetectionRequest, DetectionReply> {
    this.pool ??= new WorkerPool({
      name: 'detection',
      module: WORKER_MODULE,
      threads: this.threads - 1,
      setup: { detector: this.options.detector.definition, fingerprintKey: new Uint8Array(this.options.fingerprintKey) },
      limits: DETECTION_WORKER_LIMITS,
    });
    return this.pool;
  }
}
