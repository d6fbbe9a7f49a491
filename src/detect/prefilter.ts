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

  /** Marks `seen[k] = 1` for every keyword k present in text; returns how many distinct keywords were seen. */
  scan(text: string, seen: Uint8Array): number {
    const { delta, outputs } = this;
    // A state's outputs need reporting once per scan; common keywords ("key", "token") recur constantly.
    const terminal = this.terminal.slice();
    let row = 0;
    let found = 0;
    for (let i = 0, n = text.length; i < n; i++) {
      // Characters above 255 fold onto a byte: at worst a spurious keyword, which the rule's regex rejects.
      row = delta[row + (text.charCodeAt(i) & 255)]!;
      if (row < 0) {
        row = ~row;
        const state = row >> 8;
        if (terminal[state] !== 0) {
          terminal[state] = 0;
          for (const k of outputs[state]!) {
            if (seen[k] === 0) {
              seen[k] = 1;
              found++;
            }
          }
        }
      }
    }
    return found;
  }
}
