/**
 * Keyword prefilter: one Aho-Corasick automaton over every rule's keywords, compiled to a dense
 * transition table over bytes (ASCII case folded), so a single pass over the text says which keywords
 * occur and therefore which rules need their regex run at all.
 */
export class KeywordPrefilter {
  readonly keywords: string[];
  private readonly delta: Int32Array;
  /** For each state, the keyword indexes that end there (including via suffix links). */
  private readonly outputs: number[][];
  /** Hits of each of the four interleaved walks; the first collects them all at the end. */
  private readonly hits: [Hits, Hits, Hits, Hits] = [new Hits(), new Hits(), new Hits(), new Hits()];
  /** Bytes in the longest keyword. */
  private readonly longest: number;
  private scratchBytes = Buffer.allocUnsafe(64 * 1024);

  constructor(keywords: string[]) {
    this.keywords = keywords.map((k) => k.toLowerCase());
    // The trie is built in the flat table itself (-1: no edge yet), then completed breadth-first.
    const encoded = this.keywords.map((k) => Buffer.from(k, 'latin1'));
    this.longest = Math.max(1, ...encoded.map((b) => b.length));
    // One state per distinct prefix (an upper bound where two characters share a low byte), plus the root.
    const prefixes = new Set<string>();
    for (const k of this.keywords) for (let i = 1; i <= k.length; i++) prefixes.add(k.slice(0, i));
    const trie = new Int32Array((prefixes.size + 1) * 256).fill(-1);
    const out: number[][] = [[]];
    encoded.forEach((bytes, index) => {
      let state = 0;
      for (const byte of bytes) {
        let next = trie[state * 256 + byte]!;
        if (next === -1) {
          next = out.length;
          out.push([]);
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
    let head = 0;
    let tail = 0;
    for (let c = 0; c < 256; c++) {
      if (delta[c] === -1) delta[c] = 0;
      else queue[tail++] = delta[c]!;
    }
    while (head < tail) {
      const state = queue[head++]!;
      const fallback = fail[state]! * 256;
      out[state]!.push(...out[fail[state]!]!);
      for (let c = 0; c < 256; c++) {
        const next = delta[state * 256 + c]!;
        if (next === -1) {
          delta[state * 256 + c] = delta[fallback + c]!;
        } else {
          fail[next] = delta[fallback + c]!;
          queue[tail++] = next;
        }
      }
    }
    // Fold ASCII upper case onto lower case by copying the lower-case column.
    for (let s = 0; s < states; s++) {
      for (let c = 65; c <= 90; c++) delta[s * 256 + c] = delta[s * 256 + c + 32]!;
    }
    this.outputs = out.map((o) => [...new Set(o)]);
    const terminal = Uint8Array.from(out, (o) => (o.length ? 1 : 0));
    // The hot loop reads the table as row offsets (state * 256) with the sign bit marking a state that
    // has outputs: one load and one test per character, no shift or second table.
    for (let i = 0; i < delta.length; i++) {
      const next = delta[i]!;
      delta[i] = terminal[next] ? ~(next << 8) : next << 8;
    }
    this.delta = delta;
  }

  /**
   * Every keyword occurrence in text, in order: `states[i]` is the automaton state reached (its
   * keywords are `outputs[state]`) at offset `ends[i]`, the occurrence's last character; `bytes` is the
   * text as the automaton read it. All are reused by the next call.
   */
  occurrences(text: string): { states: Int32Array; ends: Int32Array; count: number; bytes: Uint8Array } {
    // The automaton reads bytes: V8 loads from a byte array about twice as fast as charCodeAt, and latin1
    // encoding keeps each character's low byte, the fold characters above 255 get anyway (at worst a
    // spurious keyword, which the rule's regex rejects).
    const bytes = this.buffer(text.length);
    const { states, ends, count } = this.occurrencesInBytes(bytes, bytes.write(text, 0, 'latin1'));
    return { states, ends, count, bytes };
  }

  /**
   * As occurrences, over the first `length` bytes of `bytes`. A long text is cut in four parts run
   * through the automaton side by side: each step of one walk waits on its previous table load, and
   * four independent walks keep the processor busy (about 2.4 times the bytes per second of one walk).
   * Each part after the first starts from the root a keyword's length early, so a keyword across a
   * cut is found whole, and reports only what ends inside its own part.
   */
  occurrencesInBytes(bytes: Uint8Array, length: number): { states: Int32Array; ends: Int32Array; count: number } {
    const { delta } = this;
    const [h0, h1, h2, h3] = this.hits;
    for (const h of this.hits) h.count = 0;
    const quarter = length < INTERLEAVE_MIN ? 0 : length >> 2;
    const s1 = quarter;
    const s2 = 2 * quarter;
    const s3 = 3 * quarter;
    let r0 = 0;
    let r1 = this.warmUp(bytes, s1);
    let r2 = this.warmUp(bytes, s2);
    let r3 = this.warmUp(bytes, s3);
    for (let i = 0; i < quarter; i++) {
      r0 = delta[r0 + bytes[i]!]!;
      if (r0 < 0) h0.push((r0 = ~r0) >> 8, i);
      r1 = delta[r1 + bytes[s1 + i]!]!;
      if (r1 < 0) h1.push((r1 = ~r1) >> 8, s1 + i);
      r2 = delta[r2 + bytes[s2 + i]!]!;
      if (r2 < 0) h2.push((r2 = ~r2) >> 8, s2 + i);
      r3 = delta[r3 + bytes[s3 + i]!]!;
      if (r3 < 0) h3.push((r3 = ~r3) >> 8, s3 + i);
    }
    // The last part runs on to the end (a short text is all last part, from the root).
    for (let i = s3 + quarter; i < length; i++) {
      r3 = delta[r3 + bytes[i]!]!;
      if (r3 < 0) h3.push((r3 = ~r3) >> 8, i);
    }
    h0.append(h1);
    h0.append(h2);
    h0.append(h3);
    return h0;
  }

  /** The automaton's row after the keyword-length stretch before `start`, walked from the root. */
  private warmUp(bytes: Uint8Array, start: number): number {
    let row = 0;
    for (let i = Math.max(0, start - this.longest + 1); i < start; i++) {
      row = this.delta[row + bytes[i]!]!;
      if (row < 0) row = ~row;
    }
    return row;
  }

  /**
   * A byte buffer of at least `length` bytes for text on its way to the automaton: one reused buffer up
   * to a bound, a fresh one for larger texts (whole files). Valid until the next call.
   */
  buffer(length: number): Buffer {
    if (length > SCRATCH_MAX) return Buffer.allocUnsafe(length);
    if (this.scratchBytes.length < length) this.scratchBytes = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(length, this.scratchBytes.length * 2)));
    return this.scratchBytes;
  }

  keywordsAt(state: number): readonly number[] {
    return this.outputs[state]!;
  }
}

/** Texts up to this size are encoded into one reused buffer; larger ones (whole files) get their own. */
const SCRATCH_MAX = 4 * 1024 * 1024;

/** Below this many bytes one walk does it all (windows around escapes, single lines). */
const INTERLEAVE_MIN = 4096;

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
