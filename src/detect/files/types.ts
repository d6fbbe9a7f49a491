import type { Confidence, Severity } from '../types.js';

/**
 * A piece of some source's text: whole lines, except that an overlong line is cut into overlapping
 * pieces. The detector never learns which source (file, folder, stdin, dump) it came from.
 */
export interface Fragment {
  /** Display path of the source. */
  path: string;
  text: string;
  /** 1-based line of `text[0]`. */
  line: number;
  /** 0-based column (UTF-16 units) of `text[0]` within its line; non-zero only inside a cut line. */
  column: number;
  /** Only matches starting at this index or after belong to this fragment (default 0): the text before is the previous piece's, read as context. */
  ownedStart?: number;
  /** Only matches starting before this index belong to this fragment; the rest are the next piece's. */
  ownedEnd: number;
}

export type SkipReason = 'binary' | 'unreadable' | 'too-large' | 'submodule' | 'limit';
export const SKIP_REASONS: readonly SkipReason[] = ['binary', 'unreadable', 'too-large', 'submodule', 'limit'];

/** Something not read, and why: it is reported, never silently dropped. */
export interface SourceNote {
  path: string;
  /**
   * binary: a format Warden has no reader for; too-large: over a reader's size bound; submodule: a pointer
   * to another repository in history; limit: an archive member or diff line over a size, count or depth bound.
   */
  reason: SkipReason;
  detail?: string;
}

/** A credential found in a file: where and what kind, with a keyed fingerprint, never the secret. */
export interface FileFinding {
  path: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  ruleId: string;
  title: string;
  provider: string;
  severity: Severity;
  confidence: Confidence;
  /** Why that confidence ("checksum does not verify"); never the secret. */
  reason: string;
  fingerprint: string;
  /** Set when the line carries `warden:allow`: the reason written after it ('' when none). */
  allowedBecause?: string;
}
