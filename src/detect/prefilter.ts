import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { instantiateWalk, type WalkFn } from './automaton-kernel.js';

/**
 * Keyword prefilter: one Aho-Corasick automaton over every rule's keywords, compiled to a dense
 * transition table over bytes (ASCII case folded), so a single pass over the text says which keywords
 * occur and therefore which rules need their regex run at all.
 */
export class KeywordPrefilter {
  readonly keywords: string[];
  /** For each state, the keyword indexes that end there (including via suffix links). */
  private readonly outputs: number[][];
  private readonly hits = new Hits();
  /** Bytes in the longest keyword. */
  private readonly longest: number;
  private readonly memory: AutomatonMemory;

  /**
   * `webAssembly: false` walks in JavaScript, as where WebAssembly memory cannot be had (tests run both).
   * `ids`: the number each keyword is reported as (keywordsAt), by default its index. `cached`: tables
   * serializeAutomaton wrote, used when they were built from these keywords and ids (else they are built).
   */
  constructor(keywords: string[], options: { webAssembly?: boolean; ids?: readonly number[]; cached?: Uint8Array } = {}) {
    this.keywords = keywords.map((k) => k.toLowerCase());
    const tables = (options.cached && readAutomaton(options.cached, this.keywords, options.ids)) || buildAutomaton(this.keywords, options.ids);
    this.longest = tables.longest;
    this.outputs = tables.outputs;
    this.memory = new AutomatonMemory(tables, options.webAssembly ?? true);
  }

  /**
   * Every keyword occurrence in text, in order: `states[i]` is the automaton state reached (its
   * keywords are `outputs[state]`) at offset `ends[i]`, the occurrence's last character; `bytes` is the
   * text as the automaton read it. All are reused by the next call.
   */
  occurrences(text: string): { states: Int32Array; ends: Int32Array; count: number; bytes: Uint8Array } {
    // The automaton reads bytes: latin1 encoding keeps each character's low byte, the fold characters
    // above 255 get anyway (at worst a spurious keyword, which the rule's regex rejects).
    const bytes = this.buffer(text.length);
    const { states, ends, count } = this.occurrencesInBytes(bytes, bytes.write(text, 0, 'latin1'));
    return { states, ends, count, bytes };
  }

  /**
   * As occurrences, over the first `length` bytes of `bytes`. The text goes through the automaton a
   * segment at a time; a segment is cut in four parts walked side by side (each step of one walk waits
   * on its previous table load, and four independent walks keep the processor busy). Each part after the
   * first starts from the row the keyword-length stretch before it leads to, so a keyword across a cut
   * is found whole, once.
   */
  occurrencesInBytes(bytes: Uint8Array, length: number): { states: Int32Array; ends: Int32Array; count: number } {
    const { memory } = this;
    const hits = this.hits;
    hits.count = 0;
    let row = 0;
    for (let start = 0; start < length; start += SEGMENT) {
      const size = Math.min(SEGMENT, length - start);
      const text = memory.text(bytes, start, size);
      const quarter = size < INTERLEAVE_MIN ? 0 : size >> 2;
      const rows = quarter === 0 ? [row, 0, 0, row] : [row, ...[1, 2, 3].map((k) => this.warmUp(text, k * quarter))];
      row = memory.walk(quarter, size - 4 * quarter, rows, hits, start);
    }
    return hits;
  }

  /** The automaton's row after the keyword-length stretch before `start`, walked from the root. */
  private warmUp(text: Uint8Array, start: number): number {
    let row = 0;
    for (let i = Math.max(0, start - this.longest + 1); i < start; i++) row = this.memory.next(row, text[i]!);
    return row;
  }

  /**
   * A byte buffer of at least `length` bytes for text on its way to the automaton: the automaton's own
   * text segment where it fits (so nothing is copied again), a fresh one for larger texts (whole files).
   * Valid until the next call.
   */
  buffer(length: number): Buffer {
    return length <= SEGMENT ? this.memory.segment : Buffer.allocUnsafe(length);
  }

  keywordsAt(state: number): readonly number[] {
    return this.outputs[state]!;
  }
}

/** The automaton as plain tables: what is built from keywords, and what serializeAutomaton writes. */
interface AutomatonTables {
  /** Bytes in the longest keyword. */
  longest: number;
  /** For each state, the keyword ids that end there (including via suffix links). */
  outputs: number[][];
  /** Each byte's class: bytes with the same next state from every state share one. */
  classOf: Uint8Array;
  classes: number;
  /**
   * By state and class (states × classes): the next state as the byte offset of its row (state × classes ×
   * 4), bitwise negated when a keyword ends there. The automaton's memory holds this as it is.
   */
  next: Int32Array;
}

/**
 * One Aho-Corasick automaton over `keywords` (lower case), ASCII case folded, with its byte columns
 * compressed to the classes keywords tell apart (about 50, so the table is a fifth of a 256-column one and
 * stays in cache).
 */
function buildAutomaton(keywords: string[], ids: readonly number[] | undefined): AutomatonTables {
  // The trie is built in the flat table itself (-1: no edge yet), then completed breadth-first.
  const encoded = keywords.map((k) => Buffer.from(k, 'latin1'));
  const longest = Math.max(1, ...encoded.map((b) => b.length));
  // One state per distinct prefix (an upper bound where two characters share a low byte), plus the root.
  const prefixes = new Set<string>();
  for (const k of keywords) for (let i = 1; i <= k.length; i++) prefixes.add(k.slice(0, i));
  const trie = new Int32Array((prefixes.size + 1) * 256).fill(-1);
  const out: number[][] = [[]];
  /** Each state's own edges, as byte and child: the rest of its row is its fallback's row. */
  const edges: number[][] = [[]];
  encoded.forEach((bytes, index) => {
    let state = 0;
    for (const byte of bytes) {
      let next = trie[state * 256 + byte]!;
      if (next === -1) {
        next = out.length;
        out.push([]);
        edges.push([]);
        edges[state]!.push(byte, next);
        trie[state * 256 + byte] = next;
      }
      state = next;
    }
    out[state]!.push(index);
  });
  const states = out.length;
  const delta = trie.subarray(0, states * 256);
  const fail = new Int32Array(states);
  const queue = new Int32Array(states);
  let tail = 0;
  // Breadth first, each row is its fallback's row (copied whole, natively) with its own edges over it.
  delta.fill(0, 0, 256);
  for (let e = 0; e < edges[0]!.length; e += 2) {
    delta[edges[0]![e]!] = edges[0]![e + 1]!;
    queue[tail++] = edges[0]![e + 1]!;
  }
  for (let head = 0; head < tail; head++) {
    const state = queue[head]!;
    const fallback = fail[state]! * 256;
    out[state]!.push(...out[fail[state]!]!);
    delta.copyWithin(state * 256, fallback, fallback + 256);
    const own = edges[state]!;
    for (let e = 0; e < own.length; e += 2) {
      const byte = own[e]!;
      const next = own[e + 1]!;
      fail[next] = delta[fallback + byte]!;
      delta[state * 256 + byte] = next;
      queue[tail++] = next;
    }
  }
  // Fold ASCII upper case onto lower case by copying the lower-case column.
  for (let s = 0; s < states; s++) {
    for (let c = 65; c <= 90; c++) delta[s * 256 + c] = delta[s * 256 + c + 32]!;
  }
  // Bytes with the same column in every state are one class; a class is named by its first byte.
  // Columns are compared only where their hashes agree: comparing each byte's with every class's
  // was most of the time it took to build.
  const firsts: number[] = [];
  const classOf = new Uint8Array(256);
  const sameColumn = (a: number, b: number) => {
    for (let at = 0; at < delta.length; at += 256) if (delta[at + a] !== delta[at + b]) return false;
    return true;
  };
  const hashes = new Int32Array(256);
  for (let at = 0; at < delta.length; at += 256) for (let byte = 0; byte < 256; byte++) hashes[byte] = Math.imul(hashes[byte]!, 31) + delta[at + byte]!;
  const classesByHash = new Map<number, number[]>();
  for (let byte = 0; byte < 256; byte++) {
    const candidates = classesByHash.get(hashes[byte]!) ?? [];
    let c = candidates.find((k) => sameColumn(firsts[k]!, byte));
    if (c === undefined) {
      c = firsts.push(byte) - 1;
      candidates.push(c);
      classesByHash.set(hashes[byte]!, candidates);
    }
    classOf[byte] = c;
  }
  const classes = firsts.length;
  const next = new Int32Array(states * classes);
  const rowBytes = classes * 4;
  for (let s = 0; s < states; s++) {
    for (let c = 0; c < classes; c++) {
      const to = delta[s * 256 + firsts[c]!]!;
      next[s * classes + c] = out[to]!.length > 0 ? ~(to * rowBytes) : to * rowBytes;
    }
  }
  const outputs = out.map((o) => [...new Set(ids ? o.map((index) => ids[index]!) : o)]);
  return { longest, outputs, classOf, classes, next };
}

/**
 * Names what serialized tables were built from: the format, the byte order their words were written in (a
 * build read on a machine of the other order must not be used), the keywords and their ids.
 */
function automatonKey(keywords: readonly string[], ids: readonly number[] | undefined): Buffer {
  return Buffer.from(JSON.stringify([AUTOMATON_FORMAT, endianness(), keywords, ids ?? null]));
}

const AUTOMATON_FORMAT = 'warden-keyword-automaton-2';

/**
 * The automaton for `keywords` (and `ids`, as KeywordPrefilter takes them) as bytes, for the build to ship
 * beside the shipped rules, so a process or worker starts without building it (shippedAutomaton). The bytes
 * name what they were built from, and are used only for the same keywords and ids.
 */
export function serializeAutomaton(keywords: string[], ids?: readonly number[]): Buffer {
  const lower = keywords.map((k) => k.toLowerCase());
  const { longest, outputs, classOf, classes, next } = buildAutomaton(lower, ids);
  const words = [longest, classes, outputs.length, ...next];
  for (const o of outputs) words.push(o.length, ...o);
  const key = automatonKey(lower, ids);
  const keyLength = Buffer.alloc(4);
  keyLength.writeUInt32LE(key.length);
  return Buffer.concat([keyLength, key, Buffer.from(classOf), Buffer.from(Int32Array.from(words).buffer)]);
}

/** The tables in `bytes` when they were built from these keywords and ids; else undefined. */
function readAutomaton(bytes: Uint8Array, keywords: readonly string[], ids: readonly number[] | undefined): AutomatonTables | undefined {
  const key = automatonKey(keywords, ids);
  const at = 4 + key.length;
  if (bytes.length < at + 256 + 12 || Buffer.from(bytes.buffer, bytes.byteOffset, 4).readUInt32LE() !== key.length) return undefined;
  if (!key.equals(bytes.subarray(4, at))) return undefined;
  // Copies (a Buffer's slice is a view), the words in an ArrayBuffer of their own, aligned.
  const classOf = new Uint8Array(bytes.subarray(at, at + 256));
  const words = new Int32Array(new Uint8Array(bytes.subarray(at + 256)).buffer);
  const [longest, classes, states] = [words[0]!, words[1]!, words[2]!];
  const next = words.subarray(3, 3 + states * classes);
  const outputs: number[][] = [];
  // Most states end no keyword: they share one empty list.
  const none: number[] = [];
  for (let at = 3 + states * classes; outputs.length < states; at += 1 + words[at]!)
    outputs.push(words[at] === 0 ? none : Array.from(words.subarray(at + 1, at + 1 + words[at]!)));
  return { longest, outputs, classOf, classes, next };
}

let shipped: Uint8Array | null | undefined;
/** The automaton the build wrote for the shipped rules (scripts/copy-data.mjs); absent when running from source. */
export function shippedAutomaton(): Uint8Array | undefined {
  if (shipped === undefined) {
    try {
      shipped = readFileSync(new URL('automaton.bin', import.meta.url));
    } catch {
      shipped = null;
    }
  }
  return shipped ?? undefined;
}

/** Text goes through the automaton this many bytes at a time (a batch of log lines fits in one). */
const SEGMENT = 1024 * 1024;

/** Below this many bytes one walk does it all (windows around escapes, single lines). */
const INTERLEAVE_MIN = 4096;

const PAGE = 64 * 1024;

/**
 * The automaton's WebAssembly memory and walk (automaton-kernel.ts): the byte-class map and the table,
 * compressed to the classes of bytes that keywords tell apart (about 50, so the table is a fifth of a
 * 256-column one and stays in cache), a text segment and four hit regions.
 */
class AutomatonMemory {
  readonly segment: Buffer;
  private readonly walkFn!: WalkFn;
  private readonly words: Int32Array;
  private readonly classMap: Uint8Array;
  /** Bytes per row: classes × 4. */
  private readonly rowBytes: number;
  private readonly table = 256;
  private readonly textAt: number;
  private readonly hitsAt: number;
  private readonly stride: number;

  /**
   * Lays `tables` out in memory. Where no WebAssembly memory can be had (V8 reserves several GB of address
   * space for one, which a `ulimit -v` refuses), the same layout lives in an ArrayBuffer and
   * walkInJavaScript walks it, more slowly.
   */
  constructor(tables: AutomatonTables, webAssembly: boolean) {
    const { classes, classOf, next } = tables;
    const states = tables.outputs.length;
    this.rowBytes = classes * 4;
    this.textAt = align(this.table + states * this.rowBytes);
    this.hitsAt = align(this.textAt + SEGMENT) + 32;
    // Each part records at most one hit per byte: a quarter of a segment plus a tail of under four bytes.
    this.stride = (SEGMENT / 4 + 4) * 8;
    const pages = Math.ceil((this.hitsAt + 4 * this.stride) / PAGE);
    let memory: { buffer: ArrayBuffer } | undefined;
    if (webAssembly) {
      try {
        memory = new WebAssembly.Memory({ initial: pages });
        this.walkFn = instantiateWalk(memory as WebAssembly.Memory);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        memory = undefined;
      }
    }
    if (!memory) {
      memory = { buffer: new ArrayBuffer(pages * PAGE) };
      const bytes = new Uint8Array(memory.buffer);
      const words = new Int32Array(memory.buffer);
      this.walkFn = (...args) => walkInJavaScript(bytes, words, ...args);
    }
    this.classMap = new Uint8Array(memory.buffer, 0, 256);
    for (let byte = 0; byte < 256; byte++) this.classMap[byte] = classOf[byte]! * 4;
    this.words = new Int32Array(memory.buffer);
    this.words.set(next, this.table / 4);
    this.segment = Buffer.from(memory.buffer, this.textAt, SEGMENT);
  }

  /** bytes[start, start + size) in the text segment (copied unless they are already there). */
  text(bytes: Uint8Array, start: number, size: number): Uint8Array {
    if (bytes.buffer !== this.segment.buffer || bytes.byteOffset !== this.textAt || start !== 0) this.segment.set(bytes.subarray(start, start + size));
    return this.segment;
  }

  /** The row after `byte` from `row` (a keyword's end unmarked). */
  next(row: number, byte: number): number {
    const next = this.words[(this.table + row + this.classMap[byte]!) / 4]!;
    return next < 0 ? ~next : next;
  }

  /**
   * Walks the text segment (four parts of `quarter` bytes, the last `tail` longer, from `rows`), adds the
   * hits to `hits` in text order with offsets from `offset`, and returns the last row.
   */
  walk(quarter: number, tail: number, rows: number[], hits: Hits, offset: number): number {
    const { words, textAt, hitsAt, stride, rowBytes } = this;
    this.walkFn(this.table, textAt, quarter, tail, hitsAt, stride, rows[0]!, rows[1]!, rows[2]!, rows[3]!);
    const results = (hitsAt - 32) / 4;
    for (let k = 0; k < 4; k++) {
      const from = (hitsAt + k * stride) / 4;
      const to = words[results + k]! / 4;
      for (let w = from; w < to; w += 2) hits.push(words[w]! / rowBytes, words[w + 1]! - textAt + offset);
    }
    return words[results + 4]!;
  }
}

/**
 * The kernel's walk (automaton-kernel.ts) over the same memory layout, with the same results: the four
 * parts one after another (interleaving them only pays in the kernel), each recording its own hits.
 */
function walkInJavaScript(
  bytes: Uint8Array,
  words: Int32Array,
  table: number,
  a0: number,
  q: number,
  tail: number,
  hits: number,
  stride: number,
  ...rows: [number, number, number, number]
): void {
  const results = (hits - 32) >> 2;
  for (let k = 0; k < 4; k++) {
    let row = rows[k]!;
    let hit = hits + k * stride;
    for (let a = a0 + k * q, end = a + q + (k === 3 ? tail : 0); a < end; a++) {
      row = words[(table + row + bytes[bytes[a]!]!) >> 2]!;
      if (row < 0) {
        row = ~row;
        words[hit >> 2] = row;
        words[(hit >> 2) + 1] = a;
        hit += 8;
      }
    }
    words[results + k] = hit;
    if (k === 3) words[results + 4] = row;
  }
}

function align(at: number): number {
  return Math.ceil(at / 64) * 64;
}

/** A growable list of automaton hits: the state reached and the offset where. */
class Hits {
  states = new Int32Array(1024);
  ends = new Int32Array(1024);
  count = 0;

  push(state: number, end: number): void {
    if (this.count === this.states.length) this.grow(this.count * 2);
    this.states[this.count] = state;
    this.ends[this.count++] = end;
  }

  append(other: Hits): void {
    if (other.count === 0) return;
    if (this.count + other.count > this.states.length) this.grow((this.count + other.count) * 2);
    this.states.set(other.states.subarray(0, other.count), this.count);
    this.ends.set(other.ends.subarray(0, other.count), this.count);
    this.count += other.count;
  }

  private grow(size: number): void {
    const states = new Int32Array(size);
    const ends = new Int32Array(size);
    states.set(this.states.subarray(0, this.count));
    ends.set(this.ends.subarray(0, this.count));
    this.states = states;
    this.ends = ends;
  }
}
