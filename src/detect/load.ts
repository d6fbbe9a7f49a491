import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { createRequire } from 'node:module';
import { FIELD_NAME_HINTS } from './field-hints.js';
import { Detector } from './engine.js';
import type { FileAllowlist, RuleFile, RuleSpec } from './types.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/**
 * The YAML parser, the schema validator and the pattern checker are needed only for user rule files;
 * loading them on demand keeps them (about a tenth of a second) off the start of every scrub.
 */
const load = createRequire(import.meta.url);
export const SHIPPED_RULES_DIR = join(HERE, 'rules');
export const RULE_FILE_SCHEMA = JSON.parse(readFileSync(join(HERE, 'rule-file.schema.json'), 'utf8')) as object;

/** A rule file that fails its schema or whose patterns are unsafe; the message names file and field. */
export class RuleFileError extends Error {
  readonly code = 'RULE_FILE_INVALID';
}

export interface LoadedRuleFile {
  path: string;
  provider?: string;
  rules: RuleSpec[];
  allowlist?: FileAllowlist;
  disable?: string[];
}

/** Shipped rules validated and bundled by the build (scripts/copy-data.mjs); absent when running from source. */
export const SHIPPED_RULES_BUNDLE = join(HERE, 'rules.bundle.json');

let validator: ValidateFunction | undefined;
function validate(data: unknown): boolean {
  validator ??= new (load('ajv') as typeof import('ajv')).Ajv({ allErrors: true, strict: false }).compile(RULE_FILE_SCHEMA);
  return validator(data);
}

function describe(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim()).join('; ');
}

/** Reads and validates one YAML (or JSON) rule file. `checkPatterns` proves user patterns cannot backtrack catastrophically. */
export function loadRuleFile(path: string, options: { checkPatterns?: boolean } = {}): LoadedRuleFile {
  let data: unknown;
  try {
    const doc = (load('yaml') as typeof import('yaml')).parseDocument(readFileSync(path, 'utf8'));
    if (doc.errors.length) throw new Error(doc.errors.map((e) => e.message).join('; '));
    data = doc.toJS();
  } catch (err) {
    throw new RuleFileError(`${path}: cannot read: ${(err as Error).message}`);
  }
  if (!validate(data)) throw new RuleFileError(`${path}: ${describe(validator?.errors)}`);
  const file = data as RuleFile;
  const rules = (file.rules ?? []).map((r) => ({ ...r, provider: r.provider ?? file.provider }) as RuleSpec);
  for (const rule of rules) {
    try {
      new RegExp(rule.pattern, rule.caseInsensitive ? 'i' : '');
    } catch (err) {
      throw new RuleFileError(`${path}: rule ${rule.id}: pattern does not compile: ${(err as Error).message}`);
    }
    if (options.checkPatterns) {
      const verdict = regexSafety(rule.pattern, rule.caseInsensitive ? 'i' : '');
      if (verdict !== 'safe') throw new RuleFileError(`${path}: rule ${rule.id}: pattern ${verdict}; rewrite it without nested or overlapping quantifiers`);
    }
  }
  return {
    path,
    rules,
    ...(file.provider ? { provider: file.provider } : {}),
    ...(file.allowlist ? { allowlist: file.allowlist } : {}),
    ...(file.disable ? { disable: file.disable } : {}),
  };
}

/** 'safe', or why a pattern may backtrack catastrophically ('is vulnerable to ReDoS' / 'cannot be proven safe'). */
export function regexSafety(pattern: string, flags: string): string {
  // recheck is large; load it only when a user pattern (or the rule test) needs checking.
  const { checkSync } = load('recheck') as typeof import('recheck');
  const result = checkSync(pattern, flags, { checker: 'automaton', timeout: 2000 });
  if (result.status === 'safe') return 'safe';
  return result.status === 'vulnerable' ? 'is vulnerable to ReDoS' : 'cannot be proven safe (avoid backreferences and lookaround)';
}

function ruleFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

let shipped: LoadedRuleFile[] | undefined;
/** The rule files shipped with Warden, found by folder: adding a provider is adding a file. */
export function loadShippedRuleFiles(): LoadedRuleFile[] {
  shipped ??= existsSync(SHIPPED_RULES_BUNDLE)
    ? (JSON.parse(readFileSync(SHIPPED_RULES_BUNDLE, 'utf8')) as LoadedRuleFile[])
    : ruleFilesIn(SHIPPED_RULES_DIR).map((p) => loadRuleFile(p));
  return shipped;
}

export function loadShippedRules(): RuleSpec[] {
  return loadShippedRuleFiles().flatMap((f) => f.rules);
}

export interface DetectorConfig {
  /** User rule files or folders of them; same schema as the shipped ones. */
  ruleFiles?: string[];
  /** Leave out the shipped rules (tests, or a user who wants only their own). */
  noShippedRules?: boolean;
}

export interface LoadedDetector {
  detector: Detector;
  /** Fingerprints of known test keys to ignore, from user rule files. */
  ignoredFingerprints: Set<string>;
  /** Path regexes that `warden detect` skips. */
  ignoredPaths: RegExp[];
}

/** Builds a detector from the shipped rules plus the user's rule files and allowlists. */
export function loadDetector(config: DetectorConfig = {}): LoadedDetector {
  const userFiles = (config.ruleFiles ?? []).flatMap((p) => (statSync(p).isDirectory() ? ruleFilesIn(p) : [p]));
  const user = userFiles.map((p) => loadRuleFile(p, { checkPatterns: true }));
  const disabled = new Set(user.flatMap((f) => f.disable ?? []));
  const base = config.noShippedRules ? [] : loadShippedRules();
  const userRules = user.flatMap((f) => f.rules);
  const userIds = new Set(userRules.map((r) => r.id));
  // A user rule with a shipped id replaces the shipped one (how a user tunes a rule without forking).
  const rules = [...base.filter((r) => !disabled.has(r.id) && !userIds.has(r.id)), ...userRules];
  const allow = user.map((f) => f.allowlist ?? {});
  const detector = new Detector(rules, {
    allowlist: { regexes: allow.flatMap((a) => a.regexes ?? []), stopwords: allow.flatMap((a) => a.stopwords ?? []) },
    watchWords: FIELD_NAME_HINTS,
  });
  return {
    detector,
    ignoredFingerprints: new Set(allow.flatMap((a) => a.fingerprints ?? [])),
    ignoredPaths: allow.flatMap((a) => a.paths ?? []).map((p) => new RegExp(p)),
  };
}

let defaultDetector: Detector | undefined;
/** The detector with every shipped rule, built once per process. */
export function getDefaultDetector(): Detector {
  defaultDetector ??= new Detector(loadShippedRules(), { watchWords: FIELD_NAME_HINTS });
  return defaultDetector;
}
