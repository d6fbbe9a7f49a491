/** One severity scale, shared by every capability. */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

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
}

export interface RuleAllowlist {
  /** Regex sources; a secret matching any is not reported. */
  regexes?: string[];
  /** Case-insensitive substrings; a secret containing any is not reported. */
  stopwords?: string[];
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
  /** JS regex source; the named group `secret` (or the whole match) is what gets redacted. */
  pattern: string;
  caseInsensitive?: boolean;
  /** Shannon entropy floor (bits per character) for the secret. */
  minEntropy?: number;
  /** Names of validators in `validators.ts` that the secret must pass. */
  validators?: string[];
  /** Literal, non-secret prefix that `--mask partial` may keep (e.g. `sk-proj-`). */
  keepPrefix?: string;
  /** Generic rules (assignments, headers) yield to provider rules on the same span. */
  generic?: boolean;
  allowlist?: RuleAllowlist;
  block?: BlockSpec;
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
  /** True when a block rule (private key) opened and did not close in the scanned text. */
  unterminated?: boolean;
}
