import { shannonEntropy } from './entropy.js';
import { isSecretManagerName, isTemplate, weakValueHint } from './placeholders.js';
import { isLineConfined } from './line-confined.js';
import { KeywordPrefilter, serializeAutomaton, shippedAutomaton } from './prefilter.js';
import type { Confidence, KeyValue, RuleSpec, SecretMatch } from './types.js';
import { CharEscapeFinder, EscapeFinder, ONE_LETTER_ESCAPES, unescapeBytes, unescapeOnce } from './unescape.js';
import { VALIDATORS, type Validator } from './validators.js';

/** Characters after a documentation value that `weak.exampleIfFollowedBy` may look at. */
const EXAMPLE_LOOKAHEAD = 128;

const CONFIDENCE_RANK: Record<Confidence, number> = { low: 0, medium: 1, high: 2 };

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
  weak: RegExp[];
  weakStopwords: string[];
  /** Values documentation writes: weak, and examples where `exampleAfter` follows them. */
  examples: RegExp[];
  /** Anchored: what follows a documentation value in an example. */
  exampleAfter?: RegExp;
  validators: Validator[];
  /** The pattern names a `context` group: whether it took part decides between high and medium. */
  hasContext: boolean;
  blockEnd?: RegExp;
  /** The pattern can neither cross nor look past a line end: it runs only on its keywords' lines. */
  lineConfined: boolean;
  /** The file names the rule is limited to (`files`), as one path regex. */
  files?: RegExp;
  /** A key rule's key-path regex (`keys`). */
  keys?: RegExp;
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
  /**
   * Words whose occurrences (in any ASCII case) a scan reports when asked (see `scan`), running no rule:
   * a caller that needs them too is spared a pass of its own over the text.
   */
  watchWords?: readonly string[];
}

export class RuleCompileError extends Error {
  readonly code = 'RULE_INVALID';
}

export function compileRule(spec: RuleSpec): CompiledRule {
  let regex: RegExp;
  if (spec.caseSensitiveKeywords && spec.caseInsensitive) {
    throw new RuleCompileError(`rule ${spec.id}: caseSensitiveKeywords needs a case-sensitive pattern (drop caseInsensitive)`);
  }
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
    weak: (spec.weak?.regexes ?? []).map((r) => new RegExp(r)),
    weakStopwords: (spec.weak?.stopwords ?? []).map((s) => s.toLowerCase()),
    examples: (spec.weak?.examples ?? []).map((r) => new RegExp(r)),
    ...(spec.weak?.exampleIfFollowedBy ? { exampleAfter: new RegExp(`^(?:${spec.weak.exampleIfFollowedBy})`) } : {}),
    validators,
    hasContext: /\(\?<context>/.test(spec.pattern),
    lineConfined: isLineConfined(spec.pattern, regex.flags),
    ...(spec.block ? { blockEnd: new RegExp(spec.block.end) } : {}),
    ...(spec.files ? { files: filesRegex(spec.files) } : {}),
    ...(spec.keys ? { keys: compileKeys(spec) } : {}),
  };
}

/** `master.key`, `.gem/credentials`, `*.ppk`: a path ending in one of them, `*` standing for any name characters. */
function filesRegex(files: string[]): RegExp {
  const one = (f: string) =>
    f
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
  return new RegExp(`(?:^|/)(?:${files.map(one).join('|')})$`, 'i');
}

function compileKeys(spec: RuleSpec): RegExp {
  try {
    return new RegExp(spec.keys!);
  } catch (err) {
    throw new RuleCompileError(`rule ${spec.id}: keys does not compile: ${(err as Error).message}`);
  }
}

/**
 * A key path as key rules read it: each segment in lower snake_case (`userPassword`, `user-password` and
 * `USER_PASSWORD` are all `user_password`), joined by `/`.
 */
export function keyPathOf(path: readonly string[]): string {
  return path
    .map((segment) =>
      segment
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .replace(/[^A-Za-z0-9]+/g, '_')
        .replace(/^_+|_+$/g, '')
        .toLowerCase(),
    )
    .join('/');
}

/**
 * The one engine every capability uses: scrub, detect, scan evidence, classify and incident triage.
 * Rules are data; this class never names a provider.
 */
export class Detector {
  readonly rules: CompiledRule[];
  /** Built on the first scan: a thread that only hands text to workers never needs one (about 10 MB). */
  private builtPrefilter: KeywordPrefilter | undefined;
  /** Every keyword by id, in lower case; the automaton looks for those not matched only as written. */
  private readonly automatonKeywords: string[];
  /**
   * Ids of the keywords matched only as written (`AC`, `SK`), found by indexOf rather than by the automaton:
   * in any case they hide in ordinary words (`each`, `access`), and the automaton reported `ac` on most lines.
   */
  private readonly exactIds: number[];
  /** exactIds' keywords as bytes, looked for in decoded escape windows. */
  private readonly exactBytes: Buffer[];
  /** Ids of the other keywords, which the automaton finds. */
  private readonly foldedIds: number[];
  private readonly alwaysRun: CompiledRule[];
  private readonly byKeyword: CompiledRule[][];
  private readonly globalAllow: RegExp[];
  private readonly globalStopwords: string[];
  private readonly genericIds: Set<string>;
  /** By keyword id: the keyword as written where it must match in that case. */
  private readonly exactKeywords: Array<string | undefined>;
  /** Scratch state for scanView, reused across calls (scans are synchronous): marks by generation number. */
  private readonly keywordMark: Uint32Array;
  /** By keyword id: the line ranges holding it, [start, end) pairs, the first keywordLineCount[id] entries valid. */
  private readonly keywordLines: number[][];
  private readonly keywordLineCount: Int32Array;
  private readonly ruleMark: Uint32Array;
  private generation = 0;
  /** Offsets where the last raw scan's keywords end, in order (scan's escape pass reads them). */
  private readonly rawHitEnds: number[] = [];
  /** Entries of rawHitEnds valid for the last raw scan (the array keeps its room from scan to scan). */
  private rawHitCount = 0;
  /** By latin1 byte: whether a keyword holds that character (in either case). */
  private readonly keywordChars = new Uint8Array(256);
  /**
   * By the letter of a one-letter escape: whether the character it stands for is in a keyword whose
   * escaped spellings are not all looked for (see escapedSpellings).
   */
  private readonly decodesToKeywordChar = new Uint8Array(128);

  /** By keyword id: the index of the watched word it is (DetectorOptions.watchWords), or -1. */
  private readonly watchedWord: Int32Array;
  /** By keyword id: 1 for a watched word that is no rule's keyword. */
  private readonly watchOnly: Uint8Array;

  /** Rules limited to named files (`files`) and key rules (`keys`): they run only in scanStructure. */
  private readonly fileRules: CompiledRule[];

  constructor(
    specs: RuleSpec[],
    private readonly options: DetectorOptions = {},
  ) {
    const seenIds = new Set<string>();
    for (const s of specs) {
      if (seenIds.has(s.id)) throw new RuleCompileError(`duplicate rule id ${s.id}`);
      seenIds.add(s.id);
    }
    this.rules = specs.map((spec, index) => ({ ...compileRule(spec), index }));
    this.fileRules = this.rules.filter((r) => r.files || r.keys);
    const lineRules = this.rules.filter((r) => !r.files && !r.keys);
    // A keyword matched as written is its own entry beside the same letters in any case; the automaton
    // finds both in any case, and an occurrence of the former counts only if its case is right.
    const keywordIndex = new Map<string, number>();
    const automatonKeywords: string[] = [];
    this.exactKeywords = [];
    for (const rule of lineRules) {
      for (const kw of rule.spec.keywords) {
        const exact = rule.spec.caseSensitiveKeywords === true;
        const key = exact ? `=${kw}` : kw.toLowerCase();
        if (!keywordIndex.has(key)) {
          keywordIndex.set(key, keywordIndex.size);
          automatonKeywords.push(kw.toLowerCase());
          this.exactKeywords.push(exact ? kw : undefined);
        }
        rule.keywordIds.push(keywordIndex.get(key)!);
      }
    }
    // A keyword holding a character a one-letter escape stands for (`key"`, `https://`) is also looked for
    // as escaped text writes it (`key\"`, `https:\/\/`), under an id of its own that runs no rule: then the
    // raw scan alone says which windows around escapes may hold a keyword once decoded (see scan).
    const keywords = automatonKeywords.length;
    for (let id = 0; id < keywords; id++) {
      const exact = this.exactKeywords[id];
      for (const spelling of escapedSpellings(exact ?? automatonKeywords[id]!, this.decodesToKeywordChar)) {
        automatonKeywords.push(spelling.toLowerCase());
        this.exactKeywords.push(exact === undefined ? undefined : spelling);
      }
    }
    for (const keyword of automatonKeywords) for (let i = 0; i < keyword.length; i++) markChar(this.keywordChars, keyword.charCodeAt(i));
    // Watched words: a rule keyword's id where one is spelled the same in any case, else an id of their own
    // that nothing else looks at (no rule, no escape window).
    const watched: Array<[id: number, word: number]> = [];
    const watchOnly: number[] = [];
    for (const [word, spelling] of (options.watchWords ?? []).entries()) {
      let id = keywordIndex.get(spelling.toLowerCase());
      if (id === undefined) {
        id = automatonKeywords.push(spelling.toLowerCase()) - 1;
        this.exactKeywords.push(undefined);
        watchOnly.push(id);
      }
      watched.push([id, word]);
    }
    this.watchedWord = new Int32Array(automatonKeywords.length).fill(-1);
    for (const [id, word] of watched) this.watchedWord[id] = word;
    this.watchOnly = new Uint8Array(automatonKeywords.length);
    for (const id of watchOnly) this.watchOnly[id] = 1;
    this.automatonKeywords = automatonKeywords;
    this.exactIds = [];
    this.foldedIds = [];
    for (let id = 0; id < automatonKeywords.length; id++) (this.exactKeywords[id] === undefined ? this.foldedIds : this.exactIds).push(id);
    this.exactBytes = this.exactIds.map((id) => Buffer.from(this.exactKeywords[id]!, 'latin1'));
    this.keywordMark = new Uint32Array(automatonKeywords.length);
    this.keywordLines = automatonKeywords.map(() => []);
    this.keywordLineCount = new Int32Array(automatonKeywords.length);
    this.ruleMark = new Uint32Array(this.rules.length);
    this.byKeyword = automatonKeywords.map(() => []);
    for (const rule of lineRules) for (const k of new Set(rule.keywordIds)) this.byKeyword[k]!.push(rule);
    this.alwaysRun = lineRules.filter((r) => r.keywordIds.length === 0);
    this.globalAllow = (options.allowlist?.regexes ?? []).map((r) => new RegExp(r));
    this.genericIds = new Set(this.rules.filter((r) => r.spec.generic).map((r) => r.spec.id));
    this.globalStopwords = (options.allowlist?.stopwords ?? []).map((s) => s.toLowerCase());
  }

  private get prefilter(): KeywordPrefilter {
    return (this.builtPrefilter ??= new KeywordPrefilter(this.foldedKeywords(), { ids: this.foldedIds, cached: shippedAutomaton() }));
  }

  /** What the automaton is built from: the keywords not matched only as written (reported by foldedIds). */
  private foldedKeywords(): string[] {
    return this.foldedIds.map((id) => this.automatonKeywords[id]!);
  }

  /** This detector's keyword automaton as bytes, for the build to ship (serializeAutomaton). */
  serializedAutomaton(): Buffer {
    return serializeAutomaton(this.foldedKeywords(), this.foldedIds);
  }

  /** What this detector was built from, as plain data: a worker thread builds the same detector from it. */
  get definition(): { specs: RuleSpec[]; options: DetectorOptions } {
    return { specs: this.rules.map((r) => r.spec), options: this.options };
  }

  /** Whether a scan reports exactly these watched words (DetectorOptions.watchWords), in this order. */
  watches(words: readonly string[]): boolean {
    const own = this.options.watchWords ?? [];
    return own.length === words.length && own.every((w, i) => w === words[i]);
  }

  /**
   * Every secret in `text`, non-overlapping, in order of position. `watched`, when given, receives the
   * watched words' occurrences in `text` as it is (not in decoded escapes), in order: pairs of the offset of
   * the word's last character and the word's index in DetectorOptions.watchWords.
   */
  scan(text: string, watched?: number[]): SecretMatch[] {
    const found: SecretMatch[] = [];
    this.rawHitCount = 0;
    this.scanView(text, undefined, found, true, watched);
    const rawHitEnds = this.rawHitEnds;
    const rawHits = this.rawHitCount;
    // Secrets inside JSON strings or URLs are escaped one level. Decode windows around each escape and
    // scan them again: a secret whose match an escape could change lies near one. Only a window that may
    // hold a keyword once decoded is decoded: one that holds one raw (a keyword's escaped spellings
    // included), or one with an escape that decodes to a character of a keyword (`\u0041`, `%3D`).
    const escapes = new EscapeFinder(text);
    const keywordEscapes = new CharEscapeFinder(text, this.keywordChars, this.decodesToKeywordChar);
    let hit = 0;
    const mayHoldKeyword = (from: number, to: number) => {
      while (hit < rawHits && rawHitEnds[hit]! < from) hit++;
      if (hit < rawHits && rawHitEnds[hit]! < to) return true;
      const at = keywordEscapes.next(from);
      return at !== -1 && at < to;
    };
    let lineEnd = 0;
    for (let hint = escapes.next(0); hint !== -1; hint = escapes.next(lineEnd)) {
      const lineStart = lineStartOf(text, lineEnd, hint);
      const nl = text.indexOf('\n', hint);
      lineEnd = nl === -1 ? text.length : nl;
      let from = Math.max(lineStart, hint - ESCAPE_WINDOW);
      let to = Math.min(lineEnd, hint + ESCAPE_WINDOW);
      for (;;) {
        const next = escapes.next(to);
        if (next === -1 || next >= lineEnd || next - ESCAPE_WINDOW > to) {
          if (mayHoldKeyword(from, to)) this.scanDecoded(text, from, to, lineEnd, found);
          if (next === -1 || next >= lineEnd) break;
          from = Math.max(to, next - ESCAPE_WINDOW);
        }
        to = Math.min(lineEnd, next + ESCAPE_WINDOW);
      }
    }
    return resolveOverlaps(found, text, this.genericIds);
  }

  /**
   * What only a whole file shows: rules limited to the file's name (`files`) run over `text`, and key
   * rules over the values `pairs` (parsed from `text`, only when a key rule's keywords occur) holds under
   * matching keys. Offsets are into `text`. `outerKeys` names keys the whole text sits under (a database
   * cell's column), where keywords count too.
   * The line rules are not run here: callers run scan() as for any text and keep both.
   */
  scanStructure(text: string, path: string, pairs: () => readonly KeyValue[], outerKeys = ''): SecretMatch[] {
    const found: SecretMatch[] = [];
    let lower: string | undefined;
    const holds = (rule: CompiledRule, k: string) =>
      rule.spec.caseSensitiveKeywords ? text.includes(k) || outerKeys.includes(k) : (lower ??= `${outerKeys}\n${text}`.toLowerCase()).includes(k.toLowerCase());
    const applies = (rule: CompiledRule) =>
      (!rule.files || rule.files.test(path)) && (rule.spec.keywords.length === 0 || rule.spec.keywords.some((k) => holds(rule, k)));
    const rules = this.fileRules.filter(applies);
    for (const rule of rules) if (!rule.keys) this.runRule(rule, text, 0, text.length, undefined, found);
    const keyRules = rules.filter((r) => r.keys);
    if (keyRules.length === 0) return resolveOverlaps(found, text, this.genericIds);
    for (const pair of pairs()) {
      const keyPath = keyPathOf(pair.path);
      for (const rule of keyRules) {
        if (!rule.keys!.test(keyPath)) continue;
        const before = found.length;
        this.runRule(rule, pair.value, 0, pair.value.length, undefined, found);
        for (let i = before; i < found.length; i++) found[i] = { ...found[i]!, start: found[i]!.start + pair.start, end: found[i]!.end + pair.start };
        if (found.length > before) break;
      }
    }
    return resolveOverlaps(found, text, this.genericIds);
  }

  /** Scans text[from, to) with one level of escaping removed; a match cut by the window's end is rescanned to the line's end. */
  private scanDecoded(text: string, from: number, to: number, lineEnd: number, found: SecretMatch[]): void {
    if (this.alwaysRun.length === 0 && !this.decodedHasKeyword(text, from, to)) return;
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

  /** Where exact keywords end in `text`, as [end, id] pairs in text order (few: they are written as they are). */
  private findExact(text: string): Array<[end: number, id: number]> {
    const hits: Array<[number, number]> = [];
    for (const id of this.exactIds) {
      const keyword = this.exactKeywords[id]!;
      for (let at = text.indexOf(keyword); at !== -1; at = text.indexOf(keyword, at + 1)) hits.push([at + keyword.length - 1, id]);
    }
    return hits.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  }

  /**
   * Whether text[from, to) decoded holds any keyword (in the right case where that matters). Most
   * windows around escapes hold none; deciding on decoded bytes skips building their decoded view.
   */
  private decodedHasKeyword(text: string, from: number, to: number): boolean {
    const bytes = this.prefilter.buffer(to - from);
    const length = unescapeBytes(text, from, to, bytes);
    if (length < 0) return false;
    const { states, count } = this.prefilter.occurrencesInBytes(bytes, length);
    for (let h = 0; h < count; h++) {
      for (const k of this.prefilter.keywordsAt(states[h]!)) if (this.watchOnly[k] === 0) return true;
    }
    const decoded = Buffer.from(bytes.buffer, bytes.byteOffset, length);
    return this.exactBytes.some((keyword) => decoded.includes(keyword));
  }

  /**
   * Runs each rule whose keywords occur in `text`. A rule confined to a line (see isLineConfined) runs
   * only over the lines holding one of its keywords, so a keyword on one line of a large batch does
   * not send its regex across the whole batch; any other rule runs over all of `text`.
   */
  private scanView(text: string, toRaw: Int32Array | undefined, found: SecretMatch[], recordHits = false, watched?: number[]): void {
    for (const rule of this.alwaysRun) this.runRule(rule, text, 0, text.length, toRaw, found);
    const { states, ends, count } = this.prefilter.occurrences(text);
    const exact = this.findExact(text);
    if (count === 0 && exact.length === 0) return;
    // Lines holding each keyword, as [start, end) ranges with the line feed included, in text order.
    const generation = ++this.generation;
    const seen: number[] = [];
    let lineStart = 0;
    let lineEnd = 0;
    const onHit = (k: number, at: number) => {
      if (watched && this.watchedWord[k] !== -1) watched.push(at, this.watchedWord[k]!);
      if (this.watchOnly[k] === 1) return;
      if (recordHits && (this.rawHitCount === 0 || this.rawHitEnds[this.rawHitCount - 1] !== at)) this.rawHitEnds[this.rawHitCount++] = at;
      if (at >= lineEnd) {
        lineStart = lineStartOf(text, lineEnd, at);
        const nl = text.indexOf('\n', at);
        lineEnd = nl === -1 ? text.length : nl + 1;
      }
      if (this.keywordMark[k] !== generation) {
        this.keywordMark[k] = generation;
        this.keywordLineCount[k] = 0;
        seen.push(k);
      }
      // Entries are written in place (the arrays keep their room from batch to batch), and a line right
      // after the last range extends it: a keyword on every line (`pat` in `path=`) makes one range.
      const lines = this.keywordLines[k]!;
      const n = this.keywordLineCount[k]!;
      if (n > 0 && lines[n - 1] === lineStart) lines[n - 1] = lineEnd;
      else if (n === 0 || lines[n - 1] !== lineEnd) {
        lines[n] = lineStart;
        lines[n + 1] = lineEnd;
        this.keywordLineCount[k] = n + 2;
      }
    };
    // The automaton's hits and the exact keywords', merged in text order.
    let e = 0;
    for (let h = 0; h <= count; h++) {
      const at = h < count ? ends[h]! : Infinity;
      for (; e < exact.length && exact[e]![0] <= at; e++) onHit(exact[e]![1], exact[e]![0]);
      if (h < count) for (const k of this.prefilter.keywordsAt(states[h]!)) onHit(k, at);
    }
    // Rules run in keyword order, whatever the text: which of two rules on the same bytes wins must not depend on it.
    seen.sort((a, b) => a - b);
    for (const k of seen) {
      for (const rule of this.byKeyword[k]!) {
        if (this.ruleMark[rule.index] === generation) continue;
        this.ruleMark[rule.index] = generation;
        if (!rule.lineConfined) {
          this.runRule(rule, text, 0, text.length, toRaw, found);
          continue;
        }
        const { ranges, count } = this.ruleLines(rule, generation);
        for (let i = 0; i < count; i += 2) this.runRule(rule, text, ranges[i]!, ranges[i + 1]!, toRaw, found);
      }
    }
  }

  /**
   * The merged line ranges holding any of the rule's keywords seen in this pass: the first `count` entries
   * of `ranges`, [start, end) pairs in text order (a keyword's own list where the rule has only one).
   */
  private ruleLines(rule: CompiledRule, generation: number): { ranges: number[]; count: number } {
    const lists = rule.keywordIds.filter((k) => this.keywordMark[k] === generation);
    if (lists.length === 1) return { ranges: this.keywordLines[lists[0]!]!, count: this.keywordLineCount[lists[0]!]! };
    const pairs: Array<[number, number]> = [];
    for (const k of lists) {
      const lines = this.keywordLines[k]!;
      for (let i = 0; i < this.keywordLineCount[k]!; i += 2) pairs.push([lines[i]!, lines[i + 1]!]);
    }
    pairs.sort((a, b) => a[0] - b[0]);
    const merged: number[] = [];
    for (const [start, end] of pairs) {
      if (merged.length > 0 && start <= merged[merged.length - 1]!) merged[merged.length - 1] = Math.max(merged[merged.length - 1]!, end);
      else merged.push(start, end);
    }
    return { ranges: merged, count: merged.length };
  }

  /** Runs one rule's regex over text[from, to), reporting spans in raw-text offsets. */
  private runRule(rule: CompiledRule, text: string, from: number, to: number, toRaw: Int32Array | undefined, found: SecretMatch[]): void {
    const { regex, spec } = rule;
    const view = from === 0 && to === text.length ? text : text.slice(from, to);
    regex.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = regex.exec(view)) !== null) {
      if (m[0].length === 0) {
        regex.lastIndex++;
        continue;
      }
      const span = m.indices?.groups?.secret ?? m.indices![0]!;
      const secret = m.groups?.secret ?? m[0];
      if (!secret) continue;
      if (spec.generic && isSecretManagerName(wordAround(view, span[0], span[1]))) continue;
      const verdict = this.assess(rule, secret, m.groups?.context !== undefined, () => view.slice(span[1], span[1] + EXAMPLE_LOOKAHEAD));
      if (!verdict) continue;
      const start = toRaw ? toRaw[from + span[0]]! : from + span[0];
      const end = toRaw ? toRaw[from + span[1]]! : from + span[1];
      found.push({
        ruleId: spec.id,
        provider: spec.provider ?? 'generic',
        severity: spec.severity,
        title: spec.title,
        start,
        end,
        secret,
        confidence: verdict.confidence,
        reason: verdict.reason,
        ...(rule.blockEnd && !rule.blockEnd.test(secret) ? { unterminated: true } : {}),
      });
    }
  }

  /**
   * Whether a matched value is a credential and how sure that is. Dropped (undefined): templates, masks
   * and references (`${VAR}`, `<token>`, `***`), allowlisted values, and values a `drop` validator calls
   * ids or digests. Every other filter (weak values, entropy, checksums, placeholder words) lowers the
   * confidence instead: whatever stores data redacts the match anyway (fail closed).
   */
  private assess(rule: CompiledRule, secret: string, withContext: boolean, after: () => string): { confidence: Confidence; reason: string } | undefined {
    const { spec } = rule;
    // Block rules (private keys) are never templates once their header matched.
    if (!spec.block && isTemplate(secret)) return undefined;
    if (rule.allow.some((r) => r.test(secret))) return undefined;
    if (this.globalAllow.some((r) => r.test(secret))) return undefined;
    const lower = rule.stopwords.length || this.globalStopwords.length || rule.weakStopwords.length ? secret.toLowerCase() : '';
    if (rule.stopwords.some((w) => lower.includes(w))) return undefined;
    if (this.globalStopwords.some((w) => lower.includes(w))) return undefined;
    let confidence: Confidence = spec.confidence ?? (spec.generic ? 'medium' : 'high');
    let reason = spec.generic ? 'credential position' : 'provider format';
    if (rule.hasContext) {
      confidence = withContext ? 'high' : (spec.confidence ?? 'medium');
      reason = withContext ? 'provider format with context' : 'provider format without context';
    }
    let weakness: string | undefined;
    for (const v of rule.validators) {
      if (v.test(secret)) {
        if (v.proves) {
          confidence = 'high';
          reason = v.proves;
        }
      } else if (v.onFail === 'drop') {
        return undefined;
      } else {
        weakness ??= v.failReason;
      }
    }
    if (spec.minEntropy !== undefined && shannonEntropy(secret) < spec.minEntropy) weakness ??= 'low entropy';
    if (rule.examples.some((r) => r.test(secret))) {
      if (rule.exampleAfter?.test(after())) return undefined;
      weakness ??= 'weak, default or documentation value';
    }
    if (rule.weak.some((r) => r.test(secret)) || rule.weakStopwords.some((w) => lower.includes(w))) weakness ??= 'weak, default or documentation value';
    if (!spec.block) weakness ??= weakValueHint(secret);
    return weakness ? { confidence: 'low', reason: weakness } : { confidence, reason };
  }
}

/** Escaped spellings looked for beside a keyword, at most (a keyword with more escapable characters is decoded instead). */
const MAX_ESCAPED_SPELLINGS = 15;

/**
 * Every other way one-letter escapes write `keyword` (`key"`: `key\"`; `a/b/`: `a\/b/`, `a/b\/`, `a\/b\/`).
 * When there would be too many, none: the letters of its escapable characters are marked in
 * `decodesToKeywordChar` instead, so windows with those escapes are always decoded.
 */
function escapedSpellings(keyword: string, decodesToKeywordChar: Uint8Array): string[] {
  const at: Array<[number, string]> = [];
  for (let i = 0; i < keyword.length; i++) {
    const letter = ONE_LETTER_ESCAPES.get(keyword[i]!);
    if (letter !== undefined) at.push([i, letter]);
  }
  if (at.length === 0) return [];
  if (2 ** at.length - 1 > MAX_ESCAPED_SPELLINGS) {
    for (const [, letter] of at) decodesToKeywordChar[letter.charCodeAt(0)] = 1;
    return [];
  }
  const spellings: string[] = [];
  for (let mask = 1; mask < 2 ** at.length; mask++) {
    let spelling = '';
    let last = 0;
    at.forEach(([i, letter], bit) => {
      if (!(mask & (1 << bit))) return;
      spelling += `${keyword.slice(last, i)}\\${letter}`;
      last = i + 1;
    });
    spellings.push(spelling + keyword.slice(last));
  }
  return spellings;
}

/** Marks a keyword character, in both cases, by its latin1 byte (the low byte, as the automaton reads text). */
function markChar(chars: Uint8Array, code: number): void {
  chars[code & 0xff] = 1;
  // The automaton folds ASCII letters only, so only their other case can reach a keyword.
  if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122)) chars[code ^ 0x20] = 1;
}

/** The whitespace- or quote-delimited word of `text` that holds [start, end), at most 200 characters back. */
function wordAround(text: string, start: number, end: number): string {
  let from = start;
  const floor = Math.max(0, start - 200);
  while (from > floor && !/[\s"'`]/.test(text[from - 1]!)) from--;
  return text.slice(from, end);
}

/**
 * Keeps one match per region: a provider rule beats a generic one on the same bytes, then the longer
 * span wins, then the surer match; the kept span grows to cover everything the overlapping matches covered (fail closed).
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
    const mLength = m.end - m.start;
    const lastLength = last.end - last.start;
    const mWins =
      lastGeneric !== mGeneric ? lastGeneric : mLength !== lastLength ? mLength > lastLength : CONFIDENCE_RANK[m.confidence] > CONFIDENCE_RANK[last.confidence];
    const start = Math.min(last.start, m.start);
    const end = Math.max(last.end, m.end);
    const winner = mWins ? m : last;
    const grown = start !== winner.start || end !== winner.end;
    out[out.length - 1] = { ...winner, start, end, ...(grown ? { secret: text.slice(start, end) } : {}) };
  }
  return out;
}

/**
 * Start of the line holding offset `at`, found forward from `from`, a line start at or before it: indexOf is
 * a memchr, where lastIndexOf would walk back one character at a time.
 */
function lineStartOf(text: string, from: number, at: number): number {
  let start = from;
  for (let nl = text.indexOf('\n', start); nl !== -1 && nl < at; nl = text.indexOf('\n', start)) start = nl + 1;
  return start;
}
