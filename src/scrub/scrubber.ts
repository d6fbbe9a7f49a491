import { FIELD_NAME_HINTS, type Detector, type SecretMatch } from '../detect/index.js';
import { sensitiveFieldSpans, sensitiveNameOffsets } from './fields.js';
import { maskSecret, type MaskContext } from './mask.js';

export type ScrubFormat = 'text' | 'ndjson' | 'auto';

export interface ScrubStats {
  lines: number;
  bytes: number;
  redactions: Record<string, number>;
  /** Lines replaced whole because they could not be processed safely (too long). */
  withheldLines: number;
}

export function emptyStats(): ScrubStats {
  return { lines: 0, bytes: 0, redactions: {}, withheldLines: 0 };
}

/** Adds `from` into `into` (a parallel scrub sums the counts of its batches). */
export function addStats(into: ScrubStats, from: ScrubStats): void {
  into.lines += from.lines;
  into.bytes += from.bytes;
  into.withheldLines += from.withheldLines;
  for (const [rule, n] of Object.entries(from.redactions)) into.redactions[rule] = (into.redactions[rule] ?? 0) + n;
}

interface Redaction {
  start: number;
  end: number;
  ruleId: string;
  secret: string;
  /** Replaces a whole non-string JSON value: the mask needs its own quotes. */
  quote: boolean;
}

/** Rule id reported for values redacted because of their field name rather than their shape. */
export const FIELD_RULE_ID = 'sensitive-field';

/**
 * Redacts batches of complete lines. Holds the one piece of state that crosses lines: an open
 * private-key block whose END has not come yet (its body lines stay redacted: fail closed).
 */
export class Scrubber {
  /** Replaced by a worker thread for each batch, whose counts it sends back. */
  stats: ScrubStats = emptyStats();
  private openBlock: { ruleId: string; end: RegExp; body: RegExp } | undefined;
  private readonly keepPrefix = new Map<string, string>();
  private readonly blocks = new Map<string, { end: RegExp; body: RegExp }>();
  /** Where the detector's scan reports the field-name hints, when it watches them and the format reads fields. */
  private readonly hintsFromScan: number[] | undefined;

  constructor(
    readonly detector: Detector,
    private readonly format: ScrubFormat,
    readonly mask: MaskContext,
    /** SHA-256 (hex) of lines planted on purpose; only a byte stream (`scrubBatch`) lets them through. */
    readonly keepLines: ReadonlySet<string> = new Set(),
  ) {
    for (const { spec } of detector.rules) {
      if (spec.keepPrefix) this.keepPrefix.set(spec.id, spec.keepPrefix);
      if (spec.block) this.blocks.set(spec.id, { end: new RegExp(spec.block.end), body: new RegExp(spec.block.body) });
    }
    // One walk of each batch for both the rules' keywords and the hints, where the detector allows it.
    this.hintsFromScan = format !== 'text' && detector.watches(FIELD_NAME_HINTS) ? [] : undefined;
  }

  /**
   * The rule of the private-key block open at the end of the last text scrubbed, if any. A parallel scrub
   * hands it from one batch to the next: a batch scrubbed in a worker starts from the state set here.
   */
  get openBlockRule(): string | undefined {
    return this.openBlock?.ruleId;
  }

  set openBlockRule(ruleId: string | undefined) {
    const block = ruleId === undefined ? undefined : this.blocks.get(ruleId);
    this.openBlock = block ? { ruleId: ruleId!, ...block } : undefined;
  }

  /**
   * Whether scrubbing `text` comes out the same whatever block is open where it starts: its first line
   * neither ends a block nor could be a block's body, so an open block closes there without taking any of it.
   */
  startsClearOfBlocks(text: string): boolean {
    const newline = text.indexOf('\n');
    const first = newline === -1 ? text : text.slice(0, newline > 0 && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline);
    for (const block of this.blocks.values()) if (block.end.test(first) || block.body.test(first)) return false;
    return true;
  }

  /** Scrubs one self-contained text (a log field, a span attribute): no block state carries over. */
  scrubText(text: string): string {
    const out = this.scrubLines(text);
    this.openBlock = undefined;
    return out;
  }

  /** Scrubs `text`, a run of whole lines (the last may lack its terminator only at end of input). */
  scrubLines(text: string): string {
    return applyReplacements(text, this.plan(text));
  }

  /**
   * What scrubbing text[from, to) (whole lines) replaces, in order: the stream splices these into the
   * original bytes, so clean stretches are never re-encoded. The lines before `from` and from `to` on are
   * context (a BatchContext): they are scanned, so a match spanning lines is seen whole, but only its part
   * inside [from, to) is replaced, and they change no state.
   */
  plan(text: string, from = 0, to = text.length): Replacement[] {
    const hints = this.hintsFromScan;
    if (hints) hints.length = 0;
    const found = this.detector.scan(text, hints);
    const names = this.format === 'text' ? [] : sensitiveNameOffsets(text, hints);
    let ni = 0;
    const keep = new Uint8Array(found.length).fill(1);
    let lineStart = from;
    let mi = 0;
    // Matches that start in the context before: those ending there are its own; the rest reach in and stay.
    for (; mi < found.length && found[mi]!.start < from; mi++) if (found[mi]!.end <= from) keep[mi] = 0;
    const extra: Redaction[] = [];
    while (lineStart < to) {
      if (!this.openBlock) {
        // Outside a block, a line holding no match and no field name needs only counting.
        const next = Math.min(mi < found.length ? found[mi]!.start : to, ni < names.length ? names[ni]! : to);
        for (let nl = text.indexOf('\n', lineStart); nl !== -1 && nl < next && nl < to; nl = text.indexOf('\n', lineStart)) {
          this.stats.lines++;
          lineStart = nl + 1;
        }
        if (lineStart >= to) break;
      }
      const newline = text.indexOf('\n', lineStart);
      const lineEnd = newline === -1 || newline >= to ? to : newline;
      const next = lineEnd === to ? to : lineEnd + 1;
      const contentEnd = lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd;
      this.stats.lines++;

      let scanFrom = lineStart;
      if (this.openBlock) {
        const endAt = this.openBlock.end.exec(text.slice(lineStart, contentEnd));
        if (endAt) {
          scanFrom = lineStart + endAt.index + endAt[0].length;
          extra.push({ start: lineStart, end: scanFrom, ruleId: this.openBlock.ruleId, secret: text.slice(lineStart, scanFrom), quote: false });
          this.openBlock = undefined;
        } else if (this.openBlock.body.test(text.slice(lineStart, contentEnd))) {
          if (contentEnd > lineStart)
            extra.push({ start: lineStart, end: contentEnd, ruleId: this.openBlock.ruleId, secret: text.slice(lineStart, contentEnd), quote: false });
          scanFrom = next;
        } else {
          this.openBlock = undefined; // the key was cut off; this line is ordinary text again
        }
      }
      // Drop pattern matches that fall inside a line the open block already took.
      while (mi < found.length && found[mi]!.start < lineEnd) {
        const m = found[mi]!;
        if (m.start < scanFrom) keep[mi] = 0;
        else if (m.unterminated) {
          const block = this.blocks.get(m.ruleId);
          if (block) this.openBlock = { ruleId: m.ruleId, ...block };
        }
        mi++;
      }
      let namesHere = false;
      while (ni < names.length && names[ni]! < lineEnd) {
        namesHere ||= names[ni]! >= scanFrom;
        ni++;
      }
      if (namesHere && scanFrom < contentEnd) {
        const first = firstNonSpace(text, scanFrom, contentEnd);
        if (first === 123 || first === 91) {
          for (const f of sensitiveFieldSpans(text, scanFrom, contentEnd) ?? []) {
            extra.push({ start: f.start, end: f.end, ruleId: FIELD_RULE_ID, secret: text.slice(f.start, f.end), quote: f.quote });
          }
        }
      }
      lineStart = next;
    }
    // Matches that start in the context after are the next batch's.
    for (; mi < found.length; mi++) keep[mi] = 0;
    const all = merge(
      found
        .filter((_, i) => keep[i] === 1)
        .map((m) => toRedaction(m, from, to))
        .concat(extra),
    );
    this.stats.bytes += to - from;
    return all.map((r) => {
      const masked = maskSecret(r.ruleId, r.secret, this.mask, this.keepPrefix.get(r.ruleId));
      this.stats.redactions[r.ruleId] = (this.stats.redactions[r.ruleId] ?? 0) + 1;
      // A span that crosses lines is masked line by line so no line is merged or dropped.
      const replaced = text
        .slice(r.start, r.end)
        .split(/(\r?\n)/)
        .map((part, i) => (i % 2 === 1 ? part : part.length ? (r.quote ? `"${masked}"` : masked) : part))
        .join('');
      return { start: r.start, end: r.end, text: replaced };
    });
  }
}

/** A span of the scrubbed text and what replaces it. */
export interface Replacement {
  start: number;
  end: number;
  text: string;
}

export function applyReplacements(text: string, replacements: Replacement[]): string {
  if (replacements.length === 0) return text;
  let out = '';
  let at = 0;
  for (const r of replacements) {
    out += text.slice(at, r.start) + r.text;
    at = r.end;
  }
  return out + text.slice(at);
}

/** A match's redaction, cut to [from, to) where it reaches into context. */
function toRedaction(m: SecretMatch, from: number, to: number): Redaction {
  return { start: Math.max(m.start, from), end: Math.min(m.end, to), ruleId: m.ruleId, secret: m.secret, quote: false };
}

function firstNonSpace(text: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9) return c;
  }
  return -1;
}

/**
 * Sorted, non-overlapping spans. A whole-value field span absorbs what lies inside it; otherwise a
 * pattern match keeps its (more specific) rule id and the span grows to the union.
 */
function merge(spans: Redaction[]): Redaction[] {
  // On equal spans the one bringing its own quotes goes first, so a non-string JSON value stays valid JSON.
  spans.sort((a, b) => a.start - b.start || b.end - a.end || Number(b.quote) - Number(a.quote));
  const out: Redaction[] = [];
  for (const r of spans) {
    const last = out[out.length - 1];
    if (!last || r.start >= last.end) {
      out.push(r);
      continue;
    }
    if (last.quote) continue;
    const keep = last.ruleId === FIELD_RULE_ID && r.ruleId !== FIELD_RULE_ID ? r : last;
    out[out.length - 1] = { ...keep, start: last.start, end: Math.max(last.end, r.end), quote: false };
  }
  return out;
}
