import type { Detector } from '../engine.js';
import { fingerprintSecret } from '../fingerprint.js';
import { allowReasonOnLine } from './allow.js';
import type { FileFinding, Fragment } from './types.js';

/** Runs the detector over one fragment and places each match by line and column; the secret stays here. */
export function findInFragment(detector: Detector, fragment: Fragment, fingerprintKey: Buffer): FileFinding[] {
  const { text } = fragment;
  const matches = detector.scan(text).filter((m) => m.start < fragment.ownedEnd);
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
