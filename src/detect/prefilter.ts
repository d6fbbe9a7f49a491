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
  private hitStates: Int32Array<ArrayBuffer> = new Int32Array(1024);
  private hitEnds: Int32Array<ArrayBuffer> = new Int32Array(1024);
  private scratchBytes = Buffer.allocUnsafe(64 * 1024);

  constructor(keywords: string[]) {
    this.keywords = keywords.map((k) => k.toLowerCase());
    // The trie is built in the flat table itself (-1: no edge yet), then completed breadth-first.
    const encoded = this.keywords.map((k) => Buffer.from(k, 'latin1'));
    const trie = new Int32Array((encoded.reduce((n, b) => n + b.length, 0) + 1) * 256).fill(-1);
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
    const delta = trie.slice(0, states * 256);
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
   * keywords are `outputs[state]`) at offset `ends[i]`, the occurrence's last character. The arrays
   * are reused by the next call.
   */
  occurrences(text: string): { states: Int32Array; ends: Int32Array; count: number } {
    // The automaton reads bytes: V8 loads from a byte array about twice as fast as charCodeAt, and latin1
    // encoding keeps each character's low byte, the fold characters above 255 get anyway (at worst a
    // spurious keyword, which the rule's regex rejects).
    const bytes = this.buffer(text.length);
    return this.occurrencesInBytes(bytes, bytes.write(text, 0, 'latin1'));
  }

  /** As occurrences, over the first `length` bytes of `bytes`. */
  occurrencesInBytes(bytes: Uint8Array, length: number): { states: Int32Array; ends: Int32Array; count: number } {
    const { delta } = this;
    let { hitStates: states, hitEnds: ends } = this;
    let row = 0;
    let count = 0;
    for (let i = 0; i < length; i++) {
      row = delta[row + bytes[i]!]!;
      if (row < 0) {
        row = ~row;
        if (count === states.length) {
          states = this.hitStates = growInt32(states);
          ends = this.hitEnds = growInt32(ends);
        }
        states[count] = row >> 8;
        ends[count++] = i;
      }
    }
    return { states, ends, count };
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

function growInt32(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}
