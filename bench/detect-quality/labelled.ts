/**
 * The shapes of a labelled corpus, and how a line is written with its secrets' spans known: a line is
 * built from parts, some of them secrets, so wrapping it (JSON-escaping it into a log message, quoting
 * it in a config file) keeps the offsets of every secret exact.
 */
import type { CorpusRandom } from '../../src/detect/test-log-corpus.js';

/** What a line is to the measurement. */
export type LineLabel =
  /** Holds a credential: `secrets` are the spans that must be removed (logs) or reported (files). */
  | 'secret'
  /** A near miss or a template in a credential position: changing or reporting it is a false positive. */
  | 'negative'
  /** Layout (section headers, user names, BEGIN lines): neither counted nor held against a tool. */
  | 'structure';

export interface Span {
  start: number;
  end: number;
}

export interface LabelledLine {
  text: string;
  label: LineLabel;
  /** Spans of `text` holding a credential (empty unless `label` is `secret`). */
  secrets: Span[];
}

/** A log record: usually one line; a private key printed in a text log spans several. */
export interface LogRecord {
  family: string;
  lines: LabelledLine[];
}

/** A generated credential file, named as it would be found on disk. */
export interface CredentialFile {
  family: string;
  /** Relative path, such as `home/app/.pgpass`: tools decide by name what a file is. */
  path: string;
  lines: LabelledLine[];
  /** For binary files (PKCS#12): the bytes; `lines` then holds one line standing for the whole file. */
  bytes?: Buffer;
}

/** `perFamily` items from each family's generator, family by family, from one seeded stream. */
export function generateEach<T>(families: Record<string, (r: CorpusRandom) => T>, r: CorpusRandom, perFamily: number): T[] {
  const out: T[] = [];
  for (const make of Object.values(families)) for (let i = 0; i < perFamily; i++) out.push(make(r));
  return out;
}

/** A piece of a line: literal text, or a secret whose span is recorded. */
export type Part = string | { secret: string };

export const secret = (value: string): Part => ({ secret: value });

/** Applies `escape` to every piece (JSON, shell or XML quoting), secrets included, so spans follow the escaped text. */
export function escapeParts(parts: readonly Part[], escape: (text: string) => string): Part[] {
  return parts.map((p) => (typeof p === 'string' ? escape(p) : { secret: escape(p.secret) }));
}

export const jsonEscape = (text: string): string => JSON.stringify(text).slice(1, -1);

/** Joins parts into one line, recording where each secret landed. */
export function render(parts: readonly Part[], label?: LineLabel): LabelledLine {
  let text = '';
  const secrets: Span[] = [];
  for (const p of parts) {
    if (typeof p === 'string') text += p;
    else {
      secrets.push({ start: text.length, end: text.length + p.secret.length });
      text += p.secret;
    }
  }
  return { text, label: label ?? (secrets.length ? 'secret' : 'structure'), secrets };
}

/** A line that holds no secret but sits in a credential position: a template or a near miss. */
export const negative = (text: string): LabelledLine => ({ text, label: 'negative', secrets: [] });
export const structure = (text: string): LabelledLine => ({ text, label: 'structure', secrets: [] });
