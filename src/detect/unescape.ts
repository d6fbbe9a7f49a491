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
export function unescapeOnce(raw: string, from = 0, to = raw.length): DecodedView | undefined {
  let out = '';
  const toRaw = new Int32Array(to - from + 1);
  let changed = false;
  let j = 0;
  for (let i = from; i < to; ) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < to) {
      const next = raw[i + 1]!;
      const simple = SIMPLE[next];
      if (simple !== undefined) {
        out += simple;
        toRaw[j++] = i;
        i += 2;
        changed = true;
        continue;
      }
      if (next === 'u' && i + 5 < to && /^[0-9a-fA-F]{4}$/.test(raw.slice(i + 2, i + 6))) {
        out += String.fromCharCode(parseInt(raw.slice(i + 2, i + 6), 16));
        toRaw[j++] = i;
        i += 6;
        changed = true;
        continue;
      }
    }
    if (c === '%' && i + 2 < to) {
      const code = parseInt(raw.slice(i + 1, i + 3), 16);
      // Printable ASCII only: secrets are ASCII, and decoding %0A would invent line breaks.
      if (code >= 0x20 && code <= 0x7e && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 1, i + 3))) {
        out += String.fromCharCode(code);
        toRaw[j++] = i;
        i += 3;
        changed = true;
        continue;
      }
    }
    out += c;
    toRaw[j++] = i;
    i++;
  }
  toRaw[j] = to;
  return changed ? { text: out, toRaw: toRaw.subarray(0, j + 1) } : undefined;
}
