import { detachedString } from '../../detached-string.js';
/**
 * `warden:allow` on the line of a finding accepts it where it stands (a test fixture, a documented
 * example); words after the marker are the reason. Allowed findings are counted, never silently lost.
 */
const ALLOW_MARKER = /warden:allow\b[ \t:=-]*([^\n]*)/;

/** The reason (possibly '') when the line starting at `lineStart` in `text` carries the marker; else undefined. */
export function allowReasonOnLine(text: string, lineStart: number): string | undefined {
  const end = text.indexOf('\n', lineStart);
  const match = ALLOW_MARKER.exec(text.slice(lineStart, end === -1 ? undefined : end));
  // Kept in a finding to the end of the run: a copy, not a slice holding the whole fragment.
  return match ? detachedString(trimCommentEnd(match[1]!)) : undefined;
}

/** `# warden:allow fixture -->` or `/* warden:allow fixture *\/` keeps only the words. */
function trimCommentEnd(reason: string): string {
  return reason.replace(/\s*(?:\*\/|-->|\}\}|%>)\s*$/, '').trim();
}
