import type { Detector } from '../engine.js';
import { fingerprintSecret } from '../fingerprint.js';
import type { KeyValue, SecretMatch } from '../types.js';
import { allowReasonOnLine } from './allow.js';
import { parseStructured, structuredFormat } from './structured.js';
import type { FileFinding, Fragment } from './types.js';

/** Runs the detector over one fragment and places each match by line and column; the secret stays here. */
export function findInFragment(detector: Detector, fragment: Fragment, fingerprintKey: Buffer): FileFinding[] {
  return placeMatches(
    detector.scan(fragment.text).filter((m) => m.start >= (fragment.ownedStart ?? 0) && m.start < fragment.ownedEnd),
    fragment,
    fingerprintKey,
  );
}

/**
 * What only a whole file shows: values under credential-named keys (its format read from its name or
 * first characters) and rules limited to its name. A finding the line rules already made on the same
 * characters is theirs (`lineFindings`): a provider rule names a token better than its key does.
 * `under` puts every value under a key (a database column's name).
 */
export function findInStructure(
  detector: Detector,
  path: string,
  text: string,
  fingerprintKey: Buffer,
  lineFindings: readonly FileFinding[],
  under: string[] = [],
): FileFinding[] {
  // Parsed only when some key rule's keywords occur in the file.
  const pairs = (): KeyValue[] => {
    // A database cell has no file name of its own: its first characters say what it holds.
    const format = structuredFormat(under.length ? '' : path, text);
    let parsed: KeyValue[] = [];
    try {
      if (format) parsed = parseStructured(format, text);
    } catch {
      // Input too deep or odd for a parser: the line rules have read the file already.
    }
    if (!under.length) return parsed;
    return [...parsed.map((p) => ({ ...p, path: [...under, ...p.path] })), { path: under, value: text, start: 0, end: text.length }];
  };
  const matches = detector.scanStructure(text, path, pairs, under.join('\n'));
  const placed = placeMatches(matches, { path, text, line: 1, column: 0, ownedEnd: text.length }, fingerprintKey);
  return placed.filter((f) => !lineFindings.some((l) => overlaps(l, f)));
}

function overlaps(a: FileFinding, b: FileFinding): boolean {
  const before = (l1: number, c1: number, l2: number, c2: number) => l1 < l2 || (l1 === l2 && c1 <= c2);
  return !before(a.endLine, a.endColumn, b.line, b.column) && !before(b.endLine, b.endColumn, a.line, a.column);
}

/** Findings for matches in a fragment's text: line, column and a keyed fingerprint instead of the secret. */
export function placeMatches(matches: readonly SecretMatch[], fragment: Fragment, fingerprintKey: Buffer): FileFinding[] {
  const { text } = fragment;
  if (matches.length === 0) return [];
  const cursor = new LineCursor(text, fragment.line, fragment.column);
  return matches.map((m) => {
    const start = cursor.at(m.start);
    const end = new LineCursor(text, start.line, fragment.column, start.lineStart).at(m.end);
    const allowedBecause = allowReasonOnLine(text, start.lineStart);
    return {
      path: fragment.path,
      line: start.line,
      column: start.column,
      endLine: end.line,
      endColumn: end.column,
      ruleId: m.ruleId,
      title: m.title,
      provider: m.provider,
      severity: m.severity,
      confidence: m.confidence,
      reason: m.reason,
      fingerprint: fingerprintSecret(m.ruleId, m.secret, fingerprintKey),
      ...(allowedBecause !== undefined ? { allowedBecause } : {}),
    };
  });
}

/** Turns increasing offsets into 1-based line and column, scanning each newline once. */
class LineCursor {
  private pos: number;
  constructor(
    private readonly text: string,
    private line: number,
    /** Column of `lineStart` within its line (non-zero only when the text begins mid-line). */
    private readonly firstColumn: number,
    private lineStart = 0,
  ) {
    this.pos = lineStart;
  }

  at(offset: number): { line: number; column: number; lineStart: number } {
    for (;;) {
      const nl = this.text.indexOf('\n', this.pos);
      if (nl === -1 || nl >= offset) break;
      this.line++;
      this.lineStart = nl + 1;
      this.pos = nl + 1;
    }
    const base = this.lineStart === 0 ? this.firstColumn : 0;
    return { line: this.line, column: offset - this.lineStart + base + 1, lineStart: this.lineStart };
  }
}
