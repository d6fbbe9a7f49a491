import { compileRule, contextAfter, contextBefore, type Detector } from '../detect/index.js';
import type { ScrubFormat } from './scrubber.js';

export type MarkerShape = 'json' | 'text';

/**
 * Whole lines on each side of a batch (up to CUT_CONTEXT_BYTES each, copies), scanned with it but not
 * scrubbed as part of it: a rule whose match spans lines (a `.netrc` entry, a service account's JSON) sees
 * its context across a cut, and each batch redacts its own part of a match. `after` holds the lines that
 * had arrived when the batch was cut; a batch cut for want of input (flush, end) has none.
 */
export interface BatchContext {
  before: Uint8Array;
  after: Uint8Array;
}

/** What the batcher hands on, in input order: a run of whole lines, or a line withheld for its length. */
export type BatchItem =
  /** `filled`: cut because it reached the batch size (not at a chunk's end or a withheld line). */
  | { kind: 'lines'; bytes: Buffer; filled: boolean; context: BatchContext }
  /** `terminated`: the withheld line ended with a line feed (not at end of input). */
  | { kind: 'withheld'; bytes: number; shape: MarkerShape; terminated: boolean };

export interface LineBatcherOptions {
  /** A batch holds at most this many bytes, unless one line (or a private-key block) is longer. */
  batchBytes: number;
  maxLineBytes: number;
  format: ScrubFormat;
  /** Its block rules (private keys) say where a cut would split a block. */
  detector: Detector;
}

/**
 * A private-key block is kept in one batch only this far: a pattern sees at most 12000 characters of
 * body, so a longer block is redacted line by line through the scrubber's open-block state anyway.
 */
const MAX_BLOCK_BYTES = 64 * 1024;

const NO_BYTES = new Uint8Array(0);

/**
 * Cuts a byte stream into batches of whole lines for the scrubber: before a line that would overfill a
 * batch, across chunks (a pipe brings 64 KiB at a time, and cutting there would keep batches too small to
 * hand to other threads), and when the stream asks (flush), so lines of a live stream go on as they come.
 * A cut never falls inside a private-key block (up to MAX_BLOCK_BYTES), so a block is redacted as one
 * secret wherever the chunks and the cuts fall; other matches across a cut are seen through the batches'
 * context (BatchContext). A line over `maxLineBytes` is never held: it is counted while it streams past and
 * handed on as a withheld item (fail closed).
 */
export class LineBatcher implements WaitingLines {
  /** Whole lines of the batch, as pieces of the chunks they came in. */
  private batch: Buffer[] = [];
  private batchLength = 0;
  /** The start of a line whose end has not arrived yet. */
  private line: Buffer[] = [];
  private lineLength = 0;
  /** Bytes of an over-long line being counted past, or -1 when not inside one. */
  private overlong = -1;
  private overlongShape: MarkerShape = 'text';
  private readonly blocks: BlockGuard;
  /** The last whole lines of the batch handed on before, the next batch's context before it. */
  private before: Uint8Array = NO_BYTES;

  constructor(
    private readonly options: LineBatcherOptions,
    private readonly emit: (item: BatchItem) => void,
  ) {
    this.blocks = new BlockGuard(options.detector);
  }

  write(chunk: Buffer): void {
    let at = 0;
    if (this.overlong >= 0) {
      const nl = chunk.indexOf(10);
      if (nl === -1) {
        this.overlong += chunk.length;
        return;
      }
      this.overlong += nl;
      this.withhold(true);
      at = nl + 1;
    }
    const { batchBytes, maxLineBytes } = this.options;
    const markers = this.blocks.markersIn(chunk);
    // Whole lines from runStart to at are in the batch but not yet in this.batch (no copy, no piece per line).
    let runStart = at;
    for (;;) {
      const nl = chunk.indexOf(10, at);
      if (nl === -1) break;
      // A line that would take the batch past its size starts the next one.
      if (this.batchLength > 0 && this.batchLength + this.lineLength + nl + 1 - at > batchBytes && !this.blocks.open) {
        this.addRun(chunk, runStart, at);
        runStart = at;
        this.cut(true, this.lineLength > 0 ? undefined : linesAfter(chunk, at));
      }
      if (this.lineLength > 0) {
        // The line carried from earlier chunks (always a chunk's first) ends here: joined, it copies one line.
        const length = this.lineLength + nl - at;
        if (length > maxLineBytes) {
          this.startOverlong(length, [...this.line, chunk.subarray(at, nl)]);
          this.withhold(true);
        } else {
          const whole = Buffer.concat([...this.line, chunk.subarray(at, nl + 1)]);
          this.line = [];
          this.lineLength = 0;
          this.blocks.line(whole, 0, whole.length, this.blocks.markersIn(whole).within(0, whole.length));
          this.batch.push(whole);
          this.batchLength += whole.length;
        }
        runStart = nl + 1;
      } else if (nl - at > maxLineBytes) {
        this.addRun(chunk, runStart, at);
        this.startOverlong(nl - at, [chunk.subarray(at, nl)]);
        this.withhold(true);
        runStart = nl + 1;
      } else {
        this.blocks.line(chunk, at, nl + 1, markers.within(at, nl));
        this.batchLength += nl + 1 - at;
      }
      at = nl + 1;
      if (this.batchLength >= batchBytes && !this.blocks.open) {
        this.addRun(chunk, runStart, at);
        runStart = at;
        this.cut(true, linesAfter(chunk, at));
      }
    }
    this.addRun(chunk, runStart, at);
    const rest = chunk.subarray(at);
    if (rest.length === 0) return;
    if (this.lineLength + rest.length > maxLineBytes) {
      this.startOverlong(this.lineLength + rest.length, [...this.line, rest]);
      return;
    }
    this.line.push(rest);
    this.lineLength += rest.length;
  }

  /** Whole lines are waiting for a batch to fill (see flush). */
  pending(): boolean {
    return this.batchLength > 0;
  }

  /**
   * Hands on the whole lines gathered so far (unless a block is open): the stream calls this when no
   * chunk has come for a moment, so a live stream's lines are not held back waiting for a batch to fill.
   */
  flush(): void {
    if (!this.blocks.open) this.cut();
  }

  /** At end of input: the last line (without its line feed) and the last batch. */
  end(): void {
    if (this.overlong >= 0) {
      this.withhold(false);
      return;
    }
    this.batch.push(...this.line);
    this.batchLength += this.lineLength;
    this.line = [];
    this.lineLength = 0;
    this.cut();
  }

  /** Adds chunk[from, to), whole lines already counted in batchLength, to the batch. */
  private addRun(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.batch.push(chunk.subarray(from, to));
  }

  /** Hands on the batch; `after`: the whole lines that follow it, as far as they have arrived. */
  private cut(filled = false, after: Uint8Array = NO_BYTES): void {
    if (this.batchLength === 0) return;
    let bytes = this.batch[0]!;
    if (this.batch.length > 1) {
      bytes = Buffer.allocUnsafe(this.batchLength);
      let at = 0;
      for (const piece of this.batch) at += piece.copy(bytes, at);
    }
    this.batch = [];
    this.batchLength = 0;
    const before = this.before;
    // Taken before the batch is handed on: its bytes may move to a worker or be written over.
    this.before = lastLines(bytes);
    this.emit({ kind: 'lines', bytes, filled, context: { before, after } });
  }

  /** An over-long line begins: what came before it goes first; its marker's shape is decided by its first bytes. */
  private startOverlong(length: number, firstPieces: Buffer[]): void {
    this.cut();
    this.line = [];
    this.lineLength = 0;
    this.overlong = length;
    this.overlongShape = this.markerShapeOf(firstPieces);
  }

  private withhold(terminated: boolean): void {
    this.emit({ kind: 'withheld', bytes: this.overlong, shape: this.overlongShape, terminated });
    this.overlong = -1;
    // The next batch follows a line never scanned: nothing before it is context.
    this.before = NO_BYTES;
  }

  /** NDJSON gets the JSON marker; `auto` too when the withheld line began like JSON. */
  private markerShapeOf(pieces: Buffer[]): MarkerShape {
    const { format } = this.options;
    if (format !== 'auto') return format === 'ndjson' ? 'json' : 'text';
    for (const piece of pieces) {
      const first = piece.find((byte) => byte !== 32 && byte !== 9);
      if (first !== undefined) return first === 123 || first === 91 ? 'json' : 'text';
    }
    return 'text';
  }
}

/** A copy of the whole lines that start chunk[at...] (contextAfter). */
function linesAfter(chunk: Buffer, at: number): Uint8Array {
  const end = contextAfter(chunk, at);
  return end > at ? new Uint8Array(chunk.subarray(at, end)) : NO_BYTES;
}

/** A copy of the last whole lines of a batch (contextBefore): the next batch's context before it. */
function lastLines(bytes: Buffer): Uint8Array {
  const from = contextBefore(bytes, bytes.length);
  return from < bytes.length ? new Uint8Array(bytes.subarray(from)) : NO_BYTES;
}

/** How long a stream waits for another chunk before it hands on lines that have not filled a batch. */
export const IDLE_FLUSH_MS = 10;

/** Whether lines wait for more input (a LineBatcher's, say), and how to hand them on without it. */
export interface WaitingLines {
  pending(): boolean;
  flush(): void;
}

/**
 * Flushes waiting lines once no chunk has followed the last for IDLE_FLUSH_MS: a stream arms it after each
 * chunk and stops it at the end. A busy pipe fills batches long before; a live stream's lines wait no longer.
 */
export class IdleFlush {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly lines: WaitingLines,
    private readonly onError: (err: Error) => void,
  ) {}

  arm(): void {
    if (!this.lines.pending()) return this.stop();
    // One timer for the stream, pushed back by each chunk (refresh allocates nothing).
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.lines.flush();
      } catch (err) {
        this.onError(err as Error);
      }
    }, IDLE_FLUSH_MS);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

interface BlockRule {
  regex: RegExp;
  end: RegExp;
  body: RegExp;
}

/** Where in a chunk the next block keyword is, found by memmem and remembered until passed. */
interface MarkerFinder {
  /** Whether a keyword starts in [from, to); calls must come in increasing `from`. */
  within(from: number, to: number): boolean;
}

/** A block keyword and how a chunk is searched for it. */
interface Needle {
  /** What the chunk is searched for: the keyword, or its start where that has no letters. */
  find: Buffer;
  /** The keyword: lower case unless `exact`. */
  word: Buffer;
  exact: boolean;
}

/** Whether `needle.word` starts at chunk[at] (in any ASCII case unless it is exact). */
function holdsWord(chunk: Buffer, at: number, needle: Needle): boolean {
  const { word, exact } = needle;
  if (at + word.length > chunk.length) return false;
  for (let i = 0; i < word.length; i++) {
    const byte = chunk[at + i]!;
    if (byte !== word[i] && (exact || byte < 65 || byte > 90 || (byte | 0x20) !== word[i])) return false;
  }
  return true;
}

/**
 * Follows the block rules (private keys) line by line the way the scrubber does, on the few lines that
 * hold a block keyword or follow one, so the batcher knows when a cut would split a block.
 */
class BlockGuard {
  private readonly rules: BlockRule[];
  private readonly needles: Needle[];
  private openRule: BlockRule | undefined;
  private openBytes = 0;

  constructor(detector: Detector) {
    const blockRules = detector.rules.filter((r) => r.spec.block);
    this.rules = blockRules.map((r) => {
      const compiled = compileRule(r.spec);
      return { regex: compiled.regex, end: new RegExp(r.spec.block!.end), body: new RegExp(r.spec.block!.body) };
    });
    const needles = new Map<string, Needle>();
    for (const r of blockRules) {
      for (const k of r.spec.keywords) {
        const exact = r.spec.caseSensitiveKeywords === true;
        const word = exact ? k : k.toLowerCase();
        // A keyword that starts without letters (`-----begin`) is looked for by that start, which has one
        // spelling, and the rest is compared in any case: one search of the chunk, not one per spelling.
        const caseless = /^[^A-Za-z]*/.exec(word)![0];
        if (caseless.length >= 2 || exact)
          needles.set(`${exact}:${word}`, { find: Buffer.from(exact ? word : caseless, 'latin1'), word: Buffer.from(word, 'latin1'), exact });
        else
          for (const spelling of new Set([k, k.toUpperCase(), word]))
            needles.set(`true:${spelling}`, { find: Buffer.from(spelling, 'latin1'), word: Buffer.from(spelling, 'latin1'), exact: true });
      }
    }
    this.needles = [...needles.values()];
  }

  get open(): boolean {
    return this.openRule !== undefined;
  }

  markersIn(chunk: Buffer): MarkerFinder {
    const next = (from: number): number => {
      let best = -1;
      for (const needle of this.needles) {
        let at = chunk.indexOf(needle.find, from);
        while (at !== -1 && !holdsWord(chunk, at, needle)) at = chunk.indexOf(needle.find, at + 1);
        if (at !== -1 && (best === -1 || at < best)) best = at;
      }
      return best;
    };
    let found = this.needles.length ? -2 : -1;
    return {
      within(from, to) {
        if (found === -2 || (found !== -1 && found < from)) found = next(from);
        return found !== -1 && found < to;
      },
    };
  }

  /** Follows one whole line, buf[start, end) with its line feed; `hasKeyword` from markersIn. */
  line(buf: Buffer, start: number, end: number, hasKeyword: boolean): void {
    if (!this.openRule && !hasKeyword) return;
    let content = buf.toString('latin1', start, end);
    content = content.replace(/\r?\n$/, '');
    if (this.openRule) {
      this.openBytes += end - start;
      if (this.openRule.end.test(content) || !this.openRule.body.test(content) || this.openBytes > MAX_BLOCK_BYTES) this.openRule = undefined;
    }
    if (!hasKeyword) return;
    for (const rule of this.rules) {
      rule.regex.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = rule.regex.exec(content)) !== null) {
        if (m[0].length === 0) {
          rule.regex.lastIndex++;
          continue;
        }
        const secret = m.groups?.secret ?? m[0];
        if (rule.end.test(secret)) continue;
        this.openRule = rule;
        this.openBytes = 0;
      }
    }
  }
}
