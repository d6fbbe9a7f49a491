import { CONFIDENCES, fingerprintSecret, type Confidence, type Detector } from '../detect/index.js';
import type { ContextEvidence } from './context.js';
import { categoriesFromName } from './names.js';
import {
  genAiAttributeCategories,
  isChatTranscript,
  isCompletionBody,
  isEmail,
  isJsonDocument,
  isIpAddress,
  isNaturalLanguage,
  isPasswordHashText,
  isPaymentCard,
  isPersonName,
  isPhone,
  isRequestMetadata,
  isShortToken,
  isToolCall,
  NON_TEXT,
  toSampledValue,
  vectorLength,
  type SampledValue,
} from './shapes.js';
import type { Category, CategoryDecision, ColumnClassification, CredentialSighting, EvidenceSource, Reason } from './types.js';

export interface ClassifyColumnOptions {
  detector: Detector;
  /** Key for the credential fingerprints in the report (see `loadFingerprintKey`). */
  fingerprintKey: Buffer | string;
  /** Decisions below this are left out; default 0.4. */
  minConfidence?: number;
}

export const DEFAULT_MIN_CONFIDENCE = 0.4;

/** Weights of the noisy-OR that combines evidence: a name alone, a declared type alone, values alone. */
const NAME_WEIGHT = 0.5;
/** A name whose sampled values never fit it still counts, a little (the sample may be unlucky). */
const CONTRADICTED_NAME_WEIGHT = 0.2;
const TYPE_WEIGHT = 0.7;
/** How much sampled values holding a secret weigh, by the engine's confidence in the surest one. */
const SECRET_VALUE_WEIGHT: Record<Confidence, number> = { high: 0.9, medium: 0.7, low: 0.3 };
/** Values must fit in at least this share of the sample to count as evidence. */
const MIN_VALUE_SHARE = 0.2;
/** A credential-like name (`password`) over values this share of which are password hashes is contradicted, however few. */
const HASHED_SHARE = 0.8;
/** Fewer values than this cannot contradict a name. */
const MIN_SAMPLE_TO_CONTRADICT = 10;

interface CategoryTest {
  category: Category;
  /** Values that on their own establish the category, and how much a full match weighs. */
  strong?: (v: SampledValue, ctx: { nameHit: boolean }) => boolean;
  strongWeight?: number;
  /** Values that only support a name (free text under a column called `prompt`). */
  support?: (v: SampledValue) => boolean;
  /** Declared types that establish the category. */
  type?: RegExp;
  /** Declared types under which the category cannot hold (a number is never an email). */
  impossibleFor?: RegExp;
}

const VECTOR_TYPE = /^vector\(\d+\)$|^array\((?:nullable\()?float(?:32|64)\)?\)$|^(?:real|double precision|float4|float8)\[\]$/;

const TESTS: CategoryTest[] = [
  { category: 'chat-transcript', strong: isChatTranscript, strongWeight: 0.9, support: isNaturalLanguage, impossibleFor: NON_TEXT },
  { category: 'completion', strong: isCompletionBody, strongWeight: 0.9, support: isNaturalLanguage, impossibleFor: NON_TEXT },
  { category: 'prompt', support: (v) => isNaturalLanguage(v) || isChatTranscript(v), impossibleFor: NON_TEXT },
  { category: 'tool-call', strong: isToolCall, strongWeight: 0.9, support: isJsonDocument, impossibleFor: NON_TEXT },
  { category: 'embedding', type: VECTOR_TYPE },
  { category: 'pii.email', strong: isEmail, strongWeight: 0.9, impossibleFor: NON_TEXT },
  {
    category: 'pii.phone',
    strong: (v, ctx) => isPhone(v, ctx.nameHit),
    strongWeight: 0.8,
    impossibleFor: /^(?:date|datetime|timestamp|time|bool|uuid|float|real|double)/,
  },
  {
    category: 'pii.ip-address',
    strong: isIpAddress,
    strongWeight: 0.9,
    type: /^(?:inet|cidr|ipv4|ipv6|nullable\(ipv[46]\))$/,
    impossibleFor: /^(?:u?int|date|time|bool|float|real|double)/,
  },
  { category: 'pii.person-name', strong: isPersonName, strongWeight: 0.55, impossibleFor: NON_TEXT },
  { category: 'payment-card', strong: isPaymentCard, strongWeight: 0.9, impossibleFor: /^(?:date|time|bool|uuid|float|real|double)/ },
  { category: 'request-metadata', strong: isRequestMetadata, strongWeight: 0.5, support: isShortToken },
];

const round = (x: number) => Math.round(x * 100) / 100;
const percent = (n: number, of: number) => `${n} of ${of} sampled values`;

interface Evidence {
  source: EvidenceSource;
  weight: number;
  detail: string;
}

function decide(category: Category, evidence: Evidence[]): CategoryDecision | undefined {
  const used = evidence.filter((e) => e.weight > 0);
  if (used.length === 0) return undefined;
  const confidence = round(1 - used.reduce((p, e) => p * (1 - e.weight), 1));
  const sources = [...new Set(used.map((e) => e.source))];
  const reasons: Reason[] = evidence.map((e) => ({ source: e.source, detail: e.detail }));
  return { category, confidence, basis: sources.join('+'), reasons };
}

/**
 * Classifies one column from its name, its declared type, up to N sampled values and, when known, what its
 * table says about it (`tableContext`). Values are read here and dropped; the result holds counts,
 * categories, reasons and fingerprints only.
 */
export function classifyColumn(
  column: { name: string; type: string },
  rawValues: readonly unknown[],
  options: ClassifyColumnOptions,
  context: readonly ContextEvidence[] = [],
): ColumnClassification {
  const type = column.type.toLowerCase();
  const values = rawValues.map(toSampledValue).filter((v): v is SampledValue => v !== undefined);
  const n = values.length;
  const nameHits = new Map(categoriesFromName(column.name).map((h) => [h.category, h.what]));
  const decisions: CategoryDecision[] = [];

  // Credentials: the detection engine over every sampled value; one hit is enough to matter. A match that is
  // a one-way password hash (the engine reports those too) counts as a password hash, not a credential.
  const sightings = new Map<string, CredentialSighting>();
  let valuesWithSecret = 0;
  let valuesWithHash = 0;
  const ruleIds = new Set<string>();
  let surest: Confidence = 'low';
  for (const v of values) {
    const matches = options.detector.scan(v.text);
    const secrets = matches.filter((m) => !isPasswordHashText(m.secret));
    if (secrets.length) valuesWithSecret++;
    if (secrets.length < matches.length || isPasswordHashText(v.text)) valuesWithHash++;
    const seenHere = new Set<string>();
    for (const m of secrets) {
      const fingerprint = fingerprintSecret(m.ruleId, m.secret, options.fingerprintKey);
      ruleIds.add(m.ruleId);
      if (CONFIDENCES.indexOf(m.confidence) > CONFIDENCES.indexOf(surest)) surest = m.confidence;
      if (seenHere.has(fingerprint)) continue;
      seenHere.add(fingerprint);
      const s = sightings.get(fingerprint) ?? { ruleId: m.ruleId, fingerprint, confidence: m.confidence, reason: m.reason, count: 0 };
      s.count++;
      sightings.set(fingerprint, s);
    }
  }
  const hashShare = n ? valuesWithHash / n : 0;
  {
    const nameWhat = nameHits.get('credential');
    const evidence: Evidence[] = [];
    if (nameWhat && !NON_TEXT.test(type)) {
      const hashes = valuesWithSecret === 0 && hashShare >= HASHED_SHARE;
      const contradicted = hashes || (n >= MIN_SAMPLE_TO_CONTRADICT && valuesWithSecret === 0);
      const but = hashes ? ', but the sampled values are one-way password hashes' : contradicted ? ', but no sampled value holds a known secret format' : '';
      evidence.push({ source: 'name', weight: contradicted ? CONTRADICTED_NAME_WEIGHT : NAME_WEIGHT, detail: `column name suggests ${nameWhat}${but}` });
    }
    if (valuesWithSecret > 0) {
      evidence.push({
        source: 'value',
        weight: SECRET_VALUE_WEIGHT[surest],
        detail: `${percent(valuesWithSecret, n)} hold a secret (rules: ${[...ruleIds].sort().join(', ')}; ${surest} confidence)`,
      });
    }
    const d = decide('credential', evidence);
    if (d) decisions.push(d);
  }
  {
    const nameWhat = nameHits.get('password-hash');
    const evidence: Evidence[] = [];
    if (nameWhat && !NON_TEXT.test(type)) {
      const contradicted = n >= MIN_SAMPLE_TO_CONTRADICT && valuesWithHash === 0;
      evidence.push({
        source: 'name',
        weight: contradicted ? CONTRADICTED_NAME_WEIGHT : NAME_WEIGHT,
        detail: `column name suggests ${nameWhat}${contradicted ? ', but no sampled value is in a known hash format' : ''}`,
      });
    }
    if (valuesWithHash > 0)
      evidence.push({
        source: 'value',
        weight: 0.9,
        detail: `${percent(valuesWithHash, n)} are or hold one-way password hashes (bcrypt, Argon2, scrypt, PBKDF2, SHA-crypt)`,
      });
    const d = decide('password-hash', evidence);
    if (d) decisions.push(d);
  }

  // OpenTelemetry attribute maps: the keys say what the span carries, whatever share of rows carries it.
  const keyed = new Map<string, number>();
  for (const v of values) for (const c of genAiAttributeCategories(v)) keyed.set(c, (keyed.get(c) ?? 0) + 1);

  let vectorDims: number | undefined;
  for (const test of TESTS) {
    if (test.impossibleFor?.test(type)) continue;
    const nameWhat = nameHits.get(test.category);
    const around = context.filter((c) => c.category === test.category);
    const evidence: Evidence[] = around.map((c) => ({ source: 'context', weight: c.weight, detail: c.detail }));
    const withKey = keyed.get(test.category) ?? 0;
    if (withKey > 0)
      evidence.push({
        source: 'value',
        weight: 0.6 + 0.3 * (withKey / n),
        detail: `${percent(withKey, n)} carry OpenTelemetry GenAI attributes for ${describe(test.category)}`,
      });
    const typeHit = test.type?.test(type) ?? false;
    if (typeHit) evidence.push({ source: 'type', weight: TYPE_WEIGHT, detail: `declared type ${type}` });

    let strong = 0;
    let support = 0;
    if (test.category === 'embedding') {
      const lengths = values.map(vectorLength);
      const sized = lengths.filter((l): l is number => l !== undefined);
      const dims = new Set(sized);
      if (sized.length > 0 && dims.size === 1 && sized.length / n >= 0.8) {
        strong = sized.length;
        vectorDims = sized[0];
      }
    } else {
      for (const v of values) {
        if (test.strong?.(v, { nameHit: Boolean(nameWhat) })) strong++;
        else if (test.support?.(v)) support++;
      }
    }
    const strongShare = n ? strong / n : 0;
    const supportShare = n ? (strong + support) / n : 0;
    if (nameWhat) {
      const fits = strong + support > 0 || (test.category === 'embedding' && typeHit);
      const contradicted = n >= MIN_SAMPLE_TO_CONTRADICT && !fits && (test.strong || test.support || test.category === 'embedding');
      evidence.push({
        source: 'name',
        weight: contradicted ? CONTRADICTED_NAME_WEIGHT : NAME_WEIGHT,
        detail: `column name suggests ${nameWhat}${contradicted ? ', but sampled values do not look like it' : ''}`,
      });
    }
    if (test.category === 'embedding' && strong > 0) {
      evidence.push({ source: 'value', weight: 0.9 * strongShare, detail: `${percent(strong, n)} are numeric vectors of the same length (${vectorDims})` });
    } else if (test.strong && strongShare >= MIN_VALUE_SHARE) {
      evidence.push({
        source: 'value',
        weight: (test.strongWeight ?? 0.9) * strongShare,
        detail: `${percent(strong, n)} have the shape of ${describe(test.category)}`,
      });
    } else if ((nameWhat || around.length) && test.support && supportShare >= MIN_VALUE_SHARE) {
      evidence.push({
        source: 'value',
        weight: 0.6 * supportShare,
        detail: `${percent(strong + support, n)} fit (${test.category === 'request-metadata' ? 'ids, numbers, model names or timestamps' : test.category === 'tool-call' ? 'JSON arguments' : 'natural-language or message-shaped text'})`,
      });
    }
    // Request metadata by value alone only backs up a name or a non-text type; short strings are everywhere.
    if (test.category === 'request-metadata' && !nameWhat && !around.length && !NON_TEXT.test(type)) continue;
    const d = decide(test.category, evidence);
    if (d) decisions.push(d);
  }

  const textLike = ['prompt', 'completion', 'chat-transcript'];
  const min = options.minConfidence ?? DEFAULT_MIN_CONFIDENCE;
  if (!decisions.some((d) => textLike.includes(d.category) && d.confidence >= min) && !NON_TEXT.test(type)) {
    const prose = values.filter(isNaturalLanguage).length;
    if (n && prose / n >= MIN_VALUE_SHARE) {
      const d = decide('free-text', [{ source: 'value', weight: 0.8 * (prose / n), detail: `${percent(prose, n)} are natural-language text` }]);
      if (d) decisions.push(d);
    }
  }

  return {
    column: column.name,
    type,
    sampled: n,
    categories: decisions.filter((d) => d.confidence >= min).sort((a, b) => b.confidence - a.confidence),
    credentials: [...sightings.values()].sort((a, b) => b.count - a.count || a.ruleId.localeCompare(b.ruleId)),
  };
}

function describe(category: Category): string {
  switch (category) {
    case 'chat-transcript':
      return 'role-tagged chat messages';
    case 'completion':
      return 'a model response body';
    case 'prompt':
      return 'a prompt';
    case 'tool-call':
      return 'a function/tool call';
    case 'pii.email':
      return 'an email address';
    case 'pii.phone':
      return 'a phone number';
    case 'pii.ip-address':
      return 'an IP address';
    case 'pii.person-name':
      return "a person's name";
    case 'payment-card':
      return 'a card number passing the Luhn check';
    case 'request-metadata':
      return 'ids, numbers, model names or timestamps';
    default:
      return category;
  }
}
