import { Transform, type TransformCallback } from 'node:stream';
import { getDefaultDetector, loadFingerprintKey, type Detector } from '../detect/index.js';
import type { MaskStyle } from './mask.js';
import { IdleFlush, LineBatcher, type BatchContext, type BatchItem, type LineBatcherOptions, type MarkerShape } from './line-batcher.js';
import { Scrubber, type Replacement, type ScrubFormat, type ScrubStats } from './scrubber.js';
import { plantedLineHash } from './keep-lines.js';

export type { MarkerShape } from './line-batcher.js';

export interface ScrubOptions {
  format?: ScrubFormat;
  mask?: MaskStyle;
  /** Key for `mask: 'fingerprint'`; defaults to WARDEN_FINGERPRINT_KEY or the key file. */
  fingerprintKey?: Buffer;
  detector?: Detector;
  /** A line longer than this is withheld whole and replaced by a marker (fail closed). */
  maxLineBytes?: number;
  /** Lines are gathered up to about this many bytes before one detector pass over them (tests set it small). */
  batchBytes?: number;
  /**
   * SHA-256 (hex) of lines planted on purpose, such as a canary key's log line: such a line passes a byte
   * stream unchanged; the same secret anywhere else is redacted.
   */
  keepLines?: Iterable<string>;
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
/**
 * The default of ScrubOptions.batchBytes. A batch is scanned as one latin1 string, and V8 puts a string of
 * 128 KiB or more in its large-object space, one mapping each: in a CPU profile of a one-thread text scrub
 * of 100 MB (bench/out's 8 % corpus), making 256 KiB strings took a sixth of the time, 96 KiB ones 1 %.
 */
const BATCH_BYTES = 112 * 1024;

export function createScrubber(options: ScrubOptions = {}): Scrubber {
  const mask = options.mask ?? 'full';
  return new Scrubber(
    options.detector ?? getDefaultDetector(),
    options.format ?? 'auto',
    {
      style: mask,
      ...(mask === 'fingerprint' ? { fingerprintKey: options.fingerprintKey ?? loadFingerprintKey() } : {}),
    },
    new Set(options.keepLines ?? []),
  );
}

/** Scrubs a whole string at once. */
export function scrub(text: string, options: ScrubOptions = {}): string {
  return createScrubber(options).scrubLines(text);
}

/**
 * What replaces a withheld line. In NDJSON it is a JSON object, so a sink that parses every line (ClickHouse
 * `JSONEachRow`, jq) still can; elsewhere a bracketed text marker.
 */
export function withheldMarker(bytes: number, shape: MarkerShape = 'text'): string {
  return shape === 'json' ? JSON.stringify({ warden: 'line withheld', reason: 'over-long', bytes }) : `[WARDEN:line-withheld:${bytes}-bytes-over-limit]`;
}

/**
 * A Transform that scrubs a byte stream line by line with bounded memory. Bytes are handled as latin1
 * so any input (binary, invalid UTF-8) passes through byte-exact where no secret is; lines are never
 * dropped, merged or reordered. A line over `maxLineBytes` is withheld and replaced by a marker.
 */
export class ScrubStream extends Transform {
  readonly scrubber: Scrubber;
  private readonly batcher: LineBatcher;
  private readonly idle: IdleFlush;

  constructor(options: ScrubOptions = {}) {
    super();
    this.scrubber = createScrubber(options);
    this.batcher = new LineBatcher(lineBatcherOptions(options, this.scrubber), (item) => this.push(scrubItem(this.scrubber, item)));
    this.idle = new IdleFlush(this.batcher, (err) => this.destroy(err));
  }

  get stats(): ScrubStats {
    return this.scrubber.stats;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.batcher.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
      this.idle.arm();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    this.idle.stop();
    try {
      this.batcher.end();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.idle.stop();
    done(err);
  }
}

export function lineBatcherOptions(options: ScrubOptions, scrubber: Scrubber): LineBatcherOptions {
  return {
    batchBytes: options.batchBytes ?? BATCH_BYTES,
    maxLineBytes: options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES,
    format: options.format ?? 'auto',
    detector: scrubber.detector,
  };
}

/** The output for one batcher item, counted in the scrubber's stats. */
function scrubItem(scrubber: Scrubber, item: BatchItem): Buffer {
  if (item.kind === 'lines') return scrubBatch(scrubber, item.bytes, item.context).output ?? item.bytes;
  return withheldOutput(item, scrubber.stats);
}

/** The marker for a withheld line, counted in `stats`. */
export function withheldOutput(item: BatchItem & { kind: 'withheld' }, stats: ScrubStats): Buffer {
  stats.withheldLines++;
  stats.lines++;
  stats.bytes += item.bytes + (item.terminated ? 1 : 0);
  return Buffer.from(withheldMarker(item.bytes, item.shape) + (item.terminated ? '\n' : ''), 'latin1');
}

/**
 * Scrubs a batch of whole lines, read with the lines of its `context`: the redacted bytes, or undefined
 * when nothing was redacted. With `overwrite` (the caller owns the input's buffer and needs its bytes no
 * more) the output is written over the input where the buffer has room, or else, as without it, into a
 * buffer of its own (a worker can hand either over). `clearOfBlocks` is startsClearOfBlocks for the batch,
 * asked for by `overwrite`.
 */
export function scrubBatch(
  scrubber: Scrubber,
  bytes: Uint8Array,
  context?: BatchContext,
  overwrite = false,
): { output: Buffer | undefined; clearOfBlocks: boolean } {
  return scrubBatches(scrubber, bytes, [{ length: bytes.length, context }], overwrite);
}

/** One batch in a buffer of several (scrubBatches): its length, and the lines read with it. */
export interface BatchSpan {
  length: number;
  context?: BatchContext;
}

/**
 * scrubBatch for consecutive batches in one buffer, each read with its own context: the stream's batches
 * exactly, with the block state going from one to the next, and the output written once. A parallel scrub
 * hands a worker several batches at a time this way: at one message per batch, two workers spent more CPU
 * on messages than they saved (docs/benchmarks.md), and one batch as large would be read as one string in
 * V8's large-object space (see BATCH_BYTES).
 */
export function scrubBatches(
  scrubber: Scrubber,
  bytes: Uint8Array,
  batches: readonly BatchSpan[],
  overwrite = false,
): { output: Buffer | undefined; clearOfBlocks: boolean } {
  const replacements: Replacement[] = [];
  let clearOfBlocks = false;
  let offset = 0;
  for (const [i, batch] of batches.entries()) {
    const clear = planBatch(scrubber, bytes.subarray(offset, offset + batch.length), batch.context, overwrite && i === 0, replacements, offset);
    if (i === 0) clearOfBlocks = clear;
    offset += batch.length;
  }
  return { output: replacements.length ? splice(bytes, replacements, clearOfBlocks) : undefined, clearOfBlocks };
}

/**
 * Plans the redaction of one batch: adds its replacements to `into`, at offsets into the bytes it is part
 * of (`offset`: where it starts there). Returns startsClearOfBlocks for the batch, when `overwrite` asks.
 */
function planBatch(scrubber: Scrubber, bytes: Uint8Array, context: BatchContext | undefined, overwrite: boolean, into: Replacement[], offset: number): boolean {
  const from = context?.before.length ?? 0;
  const text = latin1Text(bytes, context);
  // Overwritten, the input could not be scrubbed again from inside a block open before it (see ParallelScrubStream).
  const clearOfBlocks = overwrite && scrubber.startsClearOfBlocks(from === 0 ? text : text.slice(from));
  for (const r of keepPlanted(text, scrubber.plan(text, from, from + bytes.length), scrubber.keepLines)) {
    r.start += offset - from;
    r.end += offset - from;
    into.push(r);
  }
  return clearOfBlocks;
}

/**
 * `bytes` with the replacements (in order, offsets into `bytes`) made, over `bytes` where `inPlace` allows
 * and its buffer has room, else in a buffer of its own.
 */
function splice(bytes: Uint8Array, replacements: Replacement[], inPlace: boolean): Buffer {
  let length = bytes.length;
  // How far the output runs ahead of the input at most: in place, the input first moves up that far, so
  // each stretch is copied down or where it is and never over input bytes still to be copied.
  let ahead = 0;
  for (const r of replacements) {
    length += r.text.length - (r.end - r.start);
    ahead = Math.max(ahead, length - bytes.length);
  }
  const room = bytes.buffer.byteLength - bytes.byteOffset;
  const over = inPlace && bytes.length + ahead <= room;
  const shift = over ? ahead : 0;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, over ? room : bytes.length);
  if (shift > 0) buffer.copyWithin(shift, 0, bytes.length);
  const input = buffer.subarray(shift, shift + bytes.length);
  const out = over ? buffer.subarray(0, length) : Buffer.from(new ArrayBuffer(length));
  // Clean stretches are copied as bytes, not re-encoded from the text.
  let at = 0;
  let to = 0;
  for (const r of replacements) {
    to += input.copy(out, to, at, r.start);
    to += out.write(r.text, to, 'latin1');
    at = r.end;
  }
  input.copy(out, to, at, bytes.length);
  return out;
}

/**
 * Where a batch and its context are put side by side to be read as one string, kept from batch to batch up to
 * JOINED_KEPT_BYTES (a batch of one long line gets a buffer of its own, not kept).
 */
let joined = Buffer.alloc(0);
const JOINED_KEPT_BYTES = 1024 * 1024;

/**
 * The batch with its context as one latin1 string (latin1 maps bytes to chars one to one, so offsets are byte
 * offsets). Made from one buffer, not by adding strings: V8 would copy a sum of strings again to flatten it.
 */
function latin1Text(bytes: Uint8Array, context: BatchContext | undefined): string {
  if (!context || context.before.length + context.after.length === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  const length = context.before.length + bytes.length + context.after.length;
  if (joined.length < length && length <= JOINED_KEPT_BYTES) joined = Buffer.allocUnsafe(Math.min(JOINED_KEPT_BYTES, Math.max(length, 2 * joined.length)));
  const into = joined.length >= length ? joined : Buffer.allocUnsafe(length);
  into.set(context.before, 0);
  into.set(bytes, context.before.length);
  into.set(context.after, context.before.length + bytes.length);
  return into.toString('latin1', 0, length);
}

/** Drops the replacements inside a planted line (its bytes hash to one of `keep`); a span that crosses lines stays. */
function keepPlanted(text: string, replacements: Replacement[], keep: ReadonlySet<string>): Replacement[] {
  if (keep.size === 0 || replacements.length === 0) return replacements;
  const verdicts = new Map<number, boolean>();
  return replacements.filter((r) => {
    const start = text.lastIndexOf('\n', r.start - 1) + 1;
    const newline = text.indexOf('\n', r.start);
    const end = newline === -1 ? text.length : newline;
    if (r.end > end) return true;
    let planted = verdicts.get(start);
    if (planted === undefined) {
      const content = text.slice(start, end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end);
      // The stream's text is its bytes as latin1: back to those bytes, then the one hash a keep list uses.
      planted = keep.has(plantedLineHash(Buffer.from(content, 'latin1')));
      verdicts.set(start, planted);
    }
    return !planted;
  });
}

export function createScrubStream(options: ScrubOptions = {}): ScrubStream {
  return new ScrubStream(options);
}
