/** A view of text with one level of escaping removed, and the way back to raw offsets. */
export interface DecodedView {
  text: string;
  /** `toRaw[i]` is the raw offset of decoded char i; `toRaw[text.length]` is the raw end. */
  toRaw: Int32Array;
}

const SIMPLE: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', n: '\n', r: '\r', t: '\t', "'": "'" };

/**
 * Secrets logged inside JSON strings arrive escaped (`{\"api_key\":\"sk-…\"}`, `\n-----BEGIN…`), and
 * in URLs and form bodies percent-encoded (`key%3DAIza…`). Decoding one level of both lets the same rules
 * see them; offsets map back so redaction hits the raw bytes. Returns undefined when nothing was escaped.
 */
const ESCAPE = /\\(["\\/nrt']|u[0-9a-fA-F]{4})|%([0-9a-fA-F]{2})/g;

export function unescapeOnce(raw: string, from = 0, to = raw.length): DecodedView | undefined {
  let out = '';
  const toRaw = new Int32Array(to - from + 1);
  let j = 0;
  let last = from;
  let changed = false;
  ESCAPE.lastIndex = from;
  for (let m = ESCAPE.exec(raw); m !== null && m.index + m[0].length <= to; m = ESCAPE.exec(raw)) {
    let decoded: string;
    if (m[2] !== undefined) {
      const code = parseInt(m[2], 16);
      // Printable ASCII only: secrets are ASCII, and decoding %0A would invent line breaks.
      if (code < 0x20 || code > 0x7e) continue;
      decoded = String.fromCharCode(code);
    } else {
      const e = m[1]!;
      decoded = e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : SIMPLE[e]!;
    }
    out += raw.slice(last, m.index) + decoded;
    for (let i = last; i <= m.index; i++) toRaw[j++] = i;
    last = m.index + m[0].length;
    changed = true;
  }
  if (!changed) return undefined;
  out += raw.slice(last, to);
  for (let i = last; i < to; i++) toRaw[j++] = i;
  toRaw[j] = to;
  return { text: out, toRaw: toRaw.subarray(0, j + 1) };
}
