import type { Severity } from '../severity.js';

export type { Severity };

/**
 * How sure a match is to be a live credential: `high` validated (a checksum verifies, a vendor format
 * with its context), `medium` a credential position or a vendor format alone, `low` a value that is
 * weak, default or unconfirmed (a checksum that does not verify). Reports filter on it; redaction never does.
 */
export type Confidence = 'low' | 'medium' | 'high';
export const CONFIDENCES: readonly Confidence[] = ['low', 'medium', 'high'];

/** A rule that can span lines (private keys): once it opens, body lines are secret until `end`. */
export interface BlockSpec {
  /** Regex source that closes the block. */
  end: string;
  /** Regex source a body line must match to stay inside an unterminated block. */
  body: string;
}

export interface RuleSamples {
  /** Each must produce a finding of this rule. Strings may hold generator tokens such as `{alnum:32}`. */
  match: string[];
  /** Near misses: none may produce a finding of this rule. */
  noMatch: string[];
  /** Credentials that are weak or unconfirmed: each must produce a finding of this rule at low confidence. */
  lowConfidence?: string[];
  /** For rules with `files` or `keys`: the file name each sample is read as (its format decides the parser). */
  path?: string;
}

/** Values picked out by regex or substring: in `allowlist` they are dropped, in `weak` reported at low confidence. */
export interface RuleAllowlist {
  /** Regex sources; a secret matching any is picked out. */
  regexes?: string[];
  /** Case-insensitive substrings; a secret containing any is picked out. */
  stopwords?: string[];
}

export interface WeakValues extends RuleAllowlist {
  /**
   * Regex sources for the values documentation writes (`pass`, `password`, `changeme`): weak like
   * `regexes`, and dropped as an example where `exampleIfFollowedBy` follows them.
   */
  examples?: string[];
  /**
   * Regex source for what follows a documentation example (`@example.com`): one of `examples` followed
   * by it is an example, and dropped. Any other weak value there is still redacted (fail closed).
   */
  exampleIfFollowedBy?: string;
}

/** A secret rule exactly as declared in a rule file (`src/detect/rules/*.yaml` or a user's config). */
export interface RuleSpec {
  id: string;
  title: string;
  provider?: string;
  severity: Severity;
  /** Literals, matched in any case; the rule runs only on lines containing one of them. */
  keywords: string[];
  /**
   * Match the keywords only as written: for short provider prefixes (`AC`, `SK`) that in lower case are
   * inside ordinary words on every line. Only for case-sensitive patterns.
   */
  caseSensitiveKeywords?: boolean;
  /**
   * JS regex source; the named group `secret` (or the whole match) is what gets redacted. An optional
   * group `context` (a vendor's name or key name beside the value) makes a match high confidence when
   * it took part and medium when it did not.
   */
  pattern: string;
  caseInsensitive?: boolean;
  /** Shannon entropy floor (bits per character) for the secret. */
  minEntropy?: number;
  /**
   * Names of validators in `validators.ts`. A failed check either drops the value (it is not a
   * credential: an id, a digest) or lowers the match to low confidence (a checksum that does not verify).
   */
  validators?: string[];
  /** Confidence when every check passes; default `high` for provider rules, `medium` for generic ones. */
  confidence?: Confidence;
  /** Weak, default or documentation values: still credentials (redacted), reported at low confidence. */
  weak?: WeakValues;
  /** Literal, non-secret prefix that `--mask partial` may keep (e.g. `sk-proj-`). */
  keepPrefix?: string;
  /** Generic rules (assignments, headers) yield to provider rules on the same span. */
  generic?: boolean;
  allowlist?: RuleAllowlist;
  block?: BlockSpec;
  /**
   * File names or path suffixes (`master.key`, `.gem/credentials`, `*.ppk`) whose name gives a value its
   * meaning: the rule runs only on such files in `warden detect`, over the whole file, never on logs.
   */
  files?: string[];
  /**
   * A key rule: a regex over the key path of a structured file's values (segments in snake_case, lower
   * case, joined by `/`: `spring/datasource/password`); `pattern` then runs on each such value alone, and
   * `keywords`, when given, must occur somewhere in the file.
   */
  keys?: string;
  /** Where to rotate a leaked credential of this kind. */
  rotateUrl?: string;
  samples: RuleSamples;
}

export interface FileAllowlist {
  /** Path regexes that `warden detect` does not read. */
  paths?: string[];
  regexes?: string[];
  stopwords?: string[];
  /** Keyed fingerprints of known test keys to ignore. */
  fingerprints?: string[];
}

/** A rule file: a provider's shipped rules, or a user's extra rules, allowlist and disabled ids. */
export interface RuleFile {
  provider?: string;
  rules?: Array<Omit<RuleSpec, 'provider'> & { provider?: string }>;
  allowlist?: FileAllowlist;
  disable?: string[];
}

/**
 * One value of a structured file (JSON, YAML, XML, INI, properties, .env, PHP), placed in the file's text.
 * `start`/`end` are UTF-16 offsets of the value's raw text (inside its quotes).
 */
export interface KeyValue {
  /** Key segments from the root, as written (`["spring", "datasource", "password"]`). */
  path: string[];
  value: string;
  start: number;
  end: number;
}

/** A secret found in text. Offsets are UTF-16 indexes into the scanned string; `end` is exclusive. */
export interface SecretMatch {
  ruleId: string;
  provider: string;
  severity: Severity;
  title: string;
  start: number;
  end: number;
  /** The secret text itself. Callers must never log or print it. */
  secret: string;
  /** How sure the match is; consumers that store or show data redact every match whatever this says. */
  confidence: Confidence;
  /** Why that confidence, for reports ("checksum does not verify"); never holds the secret. */
  reason: string;
  /** True when a block rule (private key) opened and did not close in the scanned text. */
  unterminated?: boolean;
}
