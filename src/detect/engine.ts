import { shannonEntropy } from './entropy.js';
import { isPlaceholder } from './placeholders.js';
import { KeywordPrefilter } from './prefilter.js';
import type { RuleSpec, SecretMatch } from './types.js';
import { unescapeOnce } from './unescape.js';
import { VALIDATORS } from './validators.js';

const ESCAPE_HINT = /\\|%[0-9A-Fa-f]{2}/g;
/** Characters on each side of an escape that are decoded and scanned again (a match cut at the end is rescanned to the line's end). */
const ESCAPE_WINDOW = 160;

export interface CompiledRule {
  spec: RuleSpec;
  regex: RegExp;
  /** Position in the detector's rule list. */
  index: number;
  keywordIds: number[];
  allow: RegExp[];
  stopwords: string[];
  validators: Array<(secret: string) => boolean>;
  blockEnd?: RegExp;
}

/** Global allowlist applied after every rule: known test keys by fingerprint are handled by callers. */
export interface DetectorAllowlist {
  /** Regex sources; a secret matching any is dropped. */
  regexes?: string[];
  /** Case-insensitive substrings; a secret containing any is dropped. */
  stopwords?: string[];
}

export interface DetectorOptions {
  allowlist?: DetectorAllowlist;
}

export class RuleCompileError extends Error {
  readonly code = 'RULE_INVALID';
}

export function compileRule(spec: RuleSpec): CompiledRule {
  let regex: RegExp;
  try {
    regex = new RegExp(spec.pattern, spec.caseInsensitive ? 'gdi' : 'gd');
  } catch (err) {
    throw new RuleCompileError(`rule ${spec.id}: pattern does not compile: ${(err as Error).message}`);
  }
  const validators = (spec.validators ?? []).map((name) => {
    const fn = VALIDATORS[name];
    if (!fn) throw new RuleCompileError(`rule ${spec.id}: unknown validator "${name}" (known: ${Object.keys(VALIDATORS).join(', ')})`);
    return fn;
  });
  return {
    spec,
    regex,
    index: 0,
    keywordIds: [],
    allow: (spec.allowlist?.regexes ?? []).map((r) => new RegExp(r)),
    stopwords: (spec.allowlist?.stopwords ?? []).map((s) => s.toLowerCase()),
    validators,
    ...(spec.block ? { blockEnd: new RegExp(spec.block.end) } : {}),
  };
}

/**
 * The one engine every capability uses: scrub, detect, scan evidence, classify and incident triage.
 * Rules are data; this class never names a provider.
 */
export class Detector {
  readonly rules: CompiledRule[];
  private readonly prefilter: KeywordPrefilter;
  private readonly alwaysRun: CompiledRule[];
  private readonly byKeyword: CompiledRule[][];
  private readonly globalAllow: RegExp[];
  private readonly globalStopwords: string[];
  private readonly genericIds: Set<string>;
  /** Scratch state for candidateRules, reused across calls (scans are synchronous). */
  private readonly seen: Uint8Array;
  private readonly ruleMark: Uint32Array;
  private generation = 0;

  constructor(specs: RuleSpec[], options: DetectorOptions = {}) {
    const seenIds = new Set<string>();
    for (const s of specs) {
      if (seenIds.has(s.id)) throw new RuleCompileError(`duplicate rule id ${s.id}`);
      seenIds.add(s.id);
    }
    this.rules = specs.map((spec, index) => ({ ...compileRule(spec), index }));
    const keywordIndex = new Map<string, number>();
    for (const rule of this.rules) {
      for (const kw of rule.spec.keywords) {
        const k = kw.toLowerCase();
        if (!keywordIndex.has(k)) keywordIndex.set(k, keywordIndex.size);
        rule.keywordIds.push(keywordIndex.get(k)!);
      }
    }
    this.prefilter = new KeywordPrefilter([...keywordIndex.keys()]);
    this.seen = new Uint8Array(keywordIndex.size);
    this.ruleMark = new Uint32Array(this.rules.length);
    this.byKeyword = [...keywordIndex.keys()].map(() => []);
    for (const rule of this.rules) for (const k of new Set(rule.keywordIds)) this.byKeyword[k]!.push(rule);
    this.alwaysRun = this.rules.filter((r) => r.keywordIds.length === 0);
    this.globalAllow = (options.allowlist?.regexes ?? []).map((r) => new RegExp(r));
    this.genericIds = new Set(this.rules.filter((r) => r.spec.generic).map((r) => r.spec.id));
    this.globalStopwords = (options.allowlist?.stopwords ?? []).map((s) => s.toLowerCase());
  }

  /** Every secret in `text`, non-overlapping, in order of position. */
  scan(text: string): SecretMatch[] {
    const found: SecretMatch[] = [];
    this.scanView(text, undefined, found);
    // Secrets inside JSON strings or URLs are escaped one level. Decode windows around each escape and
    // scan them again: a secret whose match an escape could change lies near one.
    ESCAPE_HINT.lastIndex = 0;
    let hint: RegExpExecArray | null;
    while ((hint = ESCAPE_HINT.exec(text)) !== null) {
      const lineStart = text.lastIndexOf('\n', hint.index) + 1;
      let lineEnd = text.indexOf('\n', hint.index);
      if (lineEnd === -1) lineEnd = text.length;
      let from = Math.max(lineStart, hint.index - ESCAPE_WINDOW);
      let to = Math.min(lineEnd, hint.index + ESCAPE_WINDOW);
      for (;;) {
        ESCAPE_HINT.lastIndex = to;
        const next = ESCAPE_HINT.exec(text);
        if (next === null || next.index >= lineEnd || next.index - ESCAPE_WINDOW > to) {
          this.scanDecoded(text, from, to, lineEnd, found);
          if (next === null || next.index >= lineEnd) break;
          from = Math.max(to, next.index - ESCAPE_WINDOW);
        }
        to = Math.min(lineEnd, next.index + ESCAPE_WINDOW);
      }
      ESCAPE_HINT.lastIndex = lineEnd;
    }
    return resolveOverlaps(found, text, this.genericIds);
  }

  /** Scans text[from, to) with one level of escaping removed; a match cut by the window's end is rescanned to the line's end. */
  private scanDecoded(text: string, from: number, to: number, lineEnd: number, found: SecretMatch[]): void {
    const view = unescapeOnce(text, from, to);
    if (!view) return;
    const before = found.length;
    this.scanView(view.text, view.toRaw, found);
    if (to < lineEnd && found.slice(before).some((m) => m.end >= to - 1)) {
      found.length = before;
      const whole = unescapeOnce(text, from, lineEnd);
      if (whole) this.scanView(whole.text, whole.toRaw, found);
    }
  }

  /** Which rules could fire on `text` (keyword prefilter only). Exposed for benchmarks and tests. */
  candidateRules(text: string): CompiledRule[] {
    const seen = this.seen.fill(0);
    if (this.prefilter.scan(text, seen) === 0) return this.alwaysRun;
    // Called for every chunk and every decoded window: mark rules with a generation number instead of a Set.
    const generation = ++this.generation;
    const rules = [...this.alwaysRun];
    for (let k = 0; k < seen.length; k++) {
      if (seen[k] === 0) continue;
      for (const r of this.byKeyword[k]!) {
        if (this.ruleMark[r.index] !== generation) {
          this.ruleMark[r.index] = generation;
          rules.push(r);
        }
      }
    }
    return rules;
  }

  private scanView(text: string, toRaw: Int32Array | undefined, found: SecretMatch[]): void {
    for (const rule of this.candidateRules(text)) {
      const { regex, spec } = rule;
      regex.lastIndex = 0;
      let m: RegExpExecArray | null;
      while ((m = regex.exec(text)) !== null) {
        if (m[0].length === 0) {
          regex.lastIndex++;
          continue;
        }
        const span = m.indices?.groups?.secret ?? m.indices![0]!;
        const secret = m.groups?.secret ?? m[0];
        if (!secret || !this.accepts(rule, secret)) continue;
        const start = toRaw ? toRaw[span[0]]! : span[0];
        const end = toRaw ? toRaw[span[1]]! : span[1];
        found.push({
          ruleId: spec.id,
          provider: spec.provider ?? 'generic',
          severity: spec.severity,
          title: spec.title,
          start,
          end,
          secret,
          ...(rule.blockEnd && !rule.blockEnd.test(secret) ? { unterminated: true } : {}),
        });
      }
    }
  }

  private accepts(rule: CompiledRule, secret: string): boolean {
    const { spec } = rule;
    if (spec.minEntropy !== undefined && shannonEntropy(secret) < spec.minEntropy) return false;
    for (const v of rule.validators) if (!v(secret)) return false;
    if (rule.allow.some((r) => r.test(secret))) return false;
    if (this.globalAllow.some((r) => r.test(secret))) return false;
    if (rule.stopwords.length || this.globalStopwords.length) {
      const lower = secret.toLowerCase();
      if (rule.stopwords.some((w) => lower.includes(w))) return false;
      if (this.globalStopwords.some((w) => lower.includes(w))) return false;
    }
    // Block rules (private keys) are never placeholders once their header matched.
    if (!spec.block && isPlaceholder(secret)) return false;
    return true;
  }
}

/**
 * Keeps one match per region: a provider rule beats a generic one on the same bytes, then the longer
 * span wins; the kept span grows to cover everything the overlapping matches covered (fail closed).
 */
function resolveOverlaps(found: SecretMatch[], text: string, genericIds: Set<string>): SecretMatch[] {
  if (found.length <= 1) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: SecretMatch[] = [];
  for (const m of found) {
    const last = out[out.length - 1];
    if (!last || m.start >= last.end) {
      out.push(m);
      continue;
    }
    const lastGeneric = genericIds.has(last.ruleId);
    const mGeneric = genericIds.has(m.ruleId);
    const mWins = lastGeneric && !mGeneric ? true : !lastGeneric && mGeneric ? false : m.end - m.start > last.end - last.start;
    const start = Math.min(last.start, m.start);
    const end = Math.max(last.end, m.end);
    const winner = mWins ? m : last;
    const grown = start !== winner.start || end !== winner.end;
    out[out.length - 1] = { ...winner, start, end, ...(grown ? { secret: text.slice(start, end) } : {}) };
  }
  return out;
}
