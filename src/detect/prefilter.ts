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
  /** 1 where a state has outputs: a flat byte check keeps the hot loop off the nested arrays. */
  private readonly terminal: Uint8Array;
  private hitStates: Int32Array<ArrayBuffer> = new Int32Array(1024);
  private hitEnds: Int32Array<ArrayBuffer> = new Int32Array(1024);

  constructor(keywords: string[]) {
    this.keywords = keywords.map((k) => k.toLowerCase());
    const goto: Array<Map<number, number>> = [new Map()];
    const out: number[][] = [[]];
    this.keywords.forEach((keyword, index) => {
      let state = 0;
      for (const byte of Buffer.from(keyword, 'latin1')) {
        let next = goto[state]!.get(byte);
        if (next === undefined) {
          next = goto.length;
          goto.push(new Map());
          out.push([]);
          goto[state]!.set(byte, next);
        }
        state = next;
      }
      out[state]!.push(index);
    });
    const states = goto.length;
    const delta = new Int32Array(states * 256);
    const fail = new Int32Array(states);
    const queue: number[] = [];
    for (let c = 0; c < 256; c++) {
      const next = goto[0]!.get(c) ?? 0;
      delta[c] = next;
      if (next !== 0) queue.push(next);
    }
    while (queue.length) {
      const state = queue.shift()!;
      out[state]!.push(...out[fail[state]!]!);
      for (let c = 0; c < 256; c++) {
        const next = goto[state]!.get(c);
        if (next === undefined) {
          delta[state * 256 + c] = delta[fail[state]! * 256 + c]!;
        } else {
          fail[next] = delta[fail[state]! * 256 + c]!;
          delta[state * 256 + c] = next;
          queue.push(next);
        }
      }
    }
    // Fold ASCII upper case onto lower case by copying the lower-case column.
    for (let s = 0; s < states; s++) {
      for (let c = 65; c <= 90; c++) delta[s * 256 + c] = delta[s * 256 + c + 32]!;
    }
    this.outputs = out.map((o) => [...new Set(o)]);
    this.terminal = Uint8Array.from(out, (o) => (o.length ? 1 : 0));
    // The hot loop reads the table as row offsets (state * 256) with the sign bit marking a state that
    // has outputs: one load and one test per character, no shift or second table.
    for (let i = 0; i < delta.length; i++) {
      const next = delta[i]!;
      delta[i] = this.terminal[next] ? ~(next << 8) : next << 8;
    }
    this.delta = delta;
  }

  /**
   * Every keyword occurrence in text, in order: `states[i]` is the automaton state reached (its
   * keywords are `outputs[state]`) at offset `ends[i]`, the occurrence's last character. The arrays
   * are reused by the next call.
   */
  occurrences(text: string): { states: Int32Array; ends: Int32Array; count: number } {
    const { delta } = this;
    let { hitStates: states, hitEnds: ends } = this;
    let row = 0;
    let count = 0;
    for (let i = 0, n = text.length; i < n; i++) {
      row = delta[row + (text.charCodeAt(i) & 255)]!;
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

  keywordsAt(state: number): readonly number[] {
    return this.outputs[state]!;
  }
}

function growInt32(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(a.length * 2);
  bigger.set(a);
  return bigger;
}
