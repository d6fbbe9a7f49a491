/**
 * Wherever text is cut into pieces scanned one at a time (a file's fragments, scrub's batches, git history's
 * runs of added lines), the whole lines within this many bytes on each side of a cut are read with each piece
 * as context: a rule whose match spans lines (a `.netrc` entry, a key and the line naming its service, a
 * service account's JSON) sees it whole, and the piece where the secret starts reports or redacts it.
 */
export const CUT_CONTEXT_BYTES = 2 * 1024;

/** Where the whole lines of bytes[0, end) within its last CUT_CONTEXT_BYTES start (`end`: none fit). */
export function contextBefore(bytes: Buffer, end: number): number {
  if (end <= CUT_CONTEXT_BYTES) return 0;
  const newline = bytes.indexOf(10, end - CUT_CONTEXT_BYTES - 1);
  return newline === -1 || newline >= end ? end : newline + 1;
}

/** Where the whole lines of bytes from `start` within CUT_CONTEXT_BYTES end (`start`: none fit); `start` begins a line. */
export function contextAfter(bytes: Buffer, start: number): number {
  return Math.max(start, bytes.lastIndexOf(10, Math.min(bytes.length, start + CUT_CONTEXT_BYTES) - 1) + 1);
}
