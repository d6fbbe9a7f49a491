/** A view of text with one level of escaping removed, and the way back to raw offsets. */
export interface DecodedView {
  text: string;
  /** `toRaw[i]` is the raw offset of decoded char i; `toRaw[text.length]` is the raw end. */
  toRaw: Int32Array;
}

/** The character each one-letter JSON or shell escape stands for, by the letter's code. */
const SIMPLE = new Int16Array(128).fill(-1);
/** The letter of the one-letter escape that writes each character (`"` is written `\"`, a tab `\t`). */
export const ONE_LETTER_ESCAPES = new Map<string, string>();
for (const [letter, meaning] of [
  ['"', '"'],
  ['\\', '\\'],
  ['/', '/'],
  ['n', '\n'],
  ['r', '\r'],
  ['t', '\t'],
  ["'", "'"],
] as const) {
  SIMPLE[letter.charCodeAt(0)] = meaning.charCodeAt(0);
  ONE_LETTER_ESCAPES.set(meaning, letter);
}
const BACKSLASH = 92;
const PERCENT = 37;
const LETTER_U = 117;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** The value of `digits` hex digits at raw[at…], or -1. */
function hexAt(raw: string, at: number, digits: number): number {
  let v = 0;
  for (let i = 0; i < digits; i++) {
    const d = hexValue(raw.charCodeAt(at + i));
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Finds backslashes and `%XX` escapes with indexOf, remembering the next of each so a search never
 * covers the same text twice (a regex over the line per escape cost a tenth of the scrubber's time).
 */
export class EscapeFinder {
  private slash = -2;
  private percent = -2;

  constructor(private readonly text: string) {}

  /** Offset of the first escape at or after `from`, or -1. */
  next(from: number): number {
    if (this.slash !== -1 && this.slash < from) this.slash = this.text.indexOf('\\', from);
    if (this.percent !== -1 && this.percent < from) this.percent = this.nextPercent(from);
    if (this.slash === -1) return this.percent;
    if (this.percent === -1) return this.slash;
    return Math.min(this.slash, this.percent);
  }

  private nextPercent(from: number): number {
    const t = this.text;
    for (let p = t.indexOf('%', from); p !== -1; p = t.indexOf('%', p + 1)) if (hexAt(t, p + 1, 2) >= 0) return p;
    return -1;
  }
}

/**
 * Finds the escapes that decode to a character of `chars` (a flag per latin1 byte; a `\u` escape counts by
 * its low byte, as unescapeBytes writes it): `\u` and `%XX` escapes, and the one-letter escapes whose
 * letter `letters` flags. Each kind's next position is remembered, as in EscapeFinder.
 */
export class CharEscapeFinder {
  private unicode = -2;
  private percent = -2;
  private letter: number;

  constructor(
    private readonly text: string,
    private readonly chars: Uint8Array,
    private readonly letters: Uint8Array,
  ) {
    this.letter = letters.includes(1) ? -2 : -1;
  }

  /** Offset of the first such escape at or after `from`, or -1. */
  next(from: number): number {
    if (this.unicode !== -1 && this.unicode < from) this.unicode = this.find(from, '\\u', 6);
    if (this.percent !== -1 && this.percent < from) this.percent = this.find(from, '%', 3);
    if (this.letter !== -1 && this.letter < from) this.letter = this.find(from, '\\', 2);
    let first = -1;
    for (const at of [this.unicode, this.percent, this.letter]) if (at !== -1 && (first === -1 || at < first)) first = at;
    return first;
  }

  private find(from: number, start: string, length: number): number {
    const { text } = this;
    for (let at = text.indexOf(start, from); at !== -1; at = text.indexOf(start, at + 1)) {
      const escape = escapeAt(text, at, at + length);
      if (escape < 0) continue;
      if (length === 2 ? this.letters[text.charCodeAt(at + 1)] === 1 : this.chars[(escape >> 3) & 0xff] === 1) return at;
    }
    return -1;
  }
}

/**
 * The escape starting at raw[i] (a backslash or percent sign) and ending by `to`: the code of the
 * character it stands for times 8 plus its length (both in one number, no allocation: this runs per
 * escape), or -1 when raw[i] starts no escape that fits.
 */
function escapeAt(raw: string, i: number, to: number): number {
  let decoded = -1;
  let length = 0;
  if (raw.charCodeAt(i) === BACKSLASH) {
    const letter = raw.charCodeAt(i + 1);
    if (letter === LETTER_U) {
      decoded = hexAt(raw, i + 2, 4);
      length = 6;
    } else if (letter < 128) {
      decoded = SIMPLE[letter]!;
      length = 2;
    }
  } else {
    const code = hexAt(raw, i + 1, 2);
    // Printable ASCII only: secrets are ASCII, and decoding %0A would invent line breaks.
    if (code >= 0x20 && code <= 0x7e) decoded = code;
    length = 3;
  }
  if (decoded < 0) return -1;
  // An escape cut by the window's end ends the decoding: nothing after it fits either.
  return i + length > to ? CUT : decoded * 8 + length;
}

/** escapeAt's answer for an escape that does not fit before `to`. */
const CUT = -2;

/**
 * Secrets logged inside JSON strings arrive escaped (`{\"api_key\":\"sk-…\"}`, `\n-----BEGIN…`), and
 * in URLs and form bodies percent-encoded (`key%3DAIza…`). Decoding one level of both lets the same rules
 * see them; offsets map back so redaction hits the raw bytes. Returns undefined when nothing was escaped.
 * A loop over character codes: this runs on every window around an escape, and a regex per escape cost
 * the scrubber a tenth of its time.
 */
export function unescapeOnce(raw: string, from = 0, to = raw.length): DecodedView | undefined {
  let out = '';
  let toRaw: Int32Array | undefined;
  let j = 0;
  let last = from;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i);
    if (c !== BACKSLASH && c !== PERCENT) continue;
    const escape = escapeAt(raw, i, to);
    if (escape === -1) continue;
    if (escape === CUT) break;
    toRaw ??= new Int32Array(to - from + 1);
    out += raw.slice(last, i) + String.fromCharCode(escape >> 3);
    for (let k = last; k <= i; k++) toRaw[j++] = k;
    last = i + (escape & 7);
    i = last - 1;
  }
  if (!toRaw) return undefined;
  out += raw.slice(last, to);
  for (let i = last; i < to; i++) toRaw[j++] = i;
  toRaw[j] = to;
  return { text: out, toRaw: toRaw.subarray(0, j + 1) };
}

/**
 * The same decoding as unescapeOnce, as latin1 bytes into `out` (which must hold to - from bytes):
 * the number written, or -1 when nothing was escaped. Cheap enough to decide whether a window needs
 * the full decoded view at all.
 */
export function unescapeBytes(raw: string, from: number, to: number, out: Uint8Array): number {
  let n = 0;
  let changed = false;
  for (let i = from; i < to; i++) {
    const c = raw.charCodeAt(i);
    if (c === BACKSLASH || c === PERCENT) {
      const escape = escapeAt(raw, i, to);
      if (escape === CUT) {
        while (i < to) out[n++] = raw.charCodeAt(i++);
        break;
      }
      if (escape !== -1) {
        out[n++] = escape >> 3;
        i += (escape & 7) - 1;
        changed = true;
        continue;
      }
    }
    out[n++] = c;
  }
  return changed ? n : -1;
}
