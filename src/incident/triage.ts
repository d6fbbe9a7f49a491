/**
 * Triage: read an exposed dump or store once, and answer what leaked. Credentials are counted and
 * fingerprinted (never kept beyond the run, never printed); Warden keys are looked up in the key store
 * and, with `revoke`, revoked at once and put on the incident's timeline.
 */
import { availableParallelism } from 'node:os';
import { DetectionPool, fingerprintSecret, getDefaultDetector, type Detector, type SecretMatch } from '../detect/index.js';
import { classifyColumn, normalizeColumnName } from '../classify/index.js';
import { WardenError } from '../errors.js';
import { scrub } from '../scrub/index.js';
import type { KeyStore } from '../keys/index.js';
import type { IncidentStore } from './incident-store.js';
import type { TableCursors } from './cursors.js';
import { readableError } from './failure.js';
import { identifySource, isLiveSource, readSource, TriageSourceError, type SourceIdentity, type SourceOptions } from './sources.js';
import {
  SUBJECT_KINDS,
  type AtlasTag,
  type ExposedCategory,
  type ProviderCredentials,
  type SubjectKind,
  type SubjectSummary,
  type TriageResult,
  type TriageStatus,
  type WardenKeyFinding,
} from './types.js';

export interface TriageOptions extends SourceOptions {
  /** Key for fingerprints (see `loadFingerprintKey`); fingerprints match `warden detect` and `warden classify`. */
  fingerprintKey: Buffer | string;
  detector?: Detector;
  /** Where Warden keys are looked up (owner, scopes) and revoked; without it Warden keys are only counted. */
  keys?: KeyStore;
  /** Revoke every Warden key of `keys` found. Without it, the result lists what would be revoked. */
  revoke?: boolean;
  /** Record the triage and each revocation on this incident's timeline. */
  incident?: { store: IncidentStore; id: string };
  /** Id fields per subject kind (field names or dotted paths); a kind given here is not detected by name. */
  subjectFields?: Partial<Record<SubjectKind, string[]>>;
  /** Who acts, for the key audit log and the timeline (default `warden-incident`). */
  actor?: string;
  /** Threads that look for credentials in the rows (default one per core); 1: no workers, all on this thread. */
  threads?: number;
  /**
   * Characters read before detection workers start (default DETECTION_WORKERS_FROM_CHARS, 32 MiB: a smaller
   * dump does not repay starting them). Tests set 0 to have workers on a small dump.
   */
  workersFromChars?: number;
}

/** Field names that carry each kind of subject id, and the row's time (compared after normalizeColumnName). */
const SUBJECT_NAMES: Record<SubjectKind, RegExp> = {
  user: /^(user|user_id|uid|userid|username|user_name|end_user|end_user_id|customer_id|account_id|member_id)$/,
  tenant: /^(tenant|tenant_id|org|org_id|organization|organization_id|workspace|workspace_id|team_id)$/,
  session: /^(session|session_id|conversation_id|thread_id|chat_id)$/,
};
const TIME_NAMES = /^(timestamp|ts|time|created_at|event_time|logged_at|inserted_at|request_time|date|datetime)$/;
/** Values sampled per field for classification, as `warden classify` samples a column. */
const SAMPLE_PER_FIELD = 100;
/** Distinct fields tracked: logs with free-form keys must not grow memory without bound. */
const MAX_FIELDS = 2000;
const MAX_DEPTH = 4;
/** A scope no key is granted by name: looking a key up this way stops before rate limits, quota and last-used (see lookupKey). */
const WARDEN_RULE = 'warden-api-key';
/**
 * Rows go to detection in batches of about this many characters: enough that a batch's two messages cost
 * little beside its scan, few enough that rows waiting for their batch die young (batches of 1 MiB raised
 * the peak memory of a 250 MB triage by 50 MB, and were no faster).
 */
const BATCH_CHARS = 256 * 1024;
/** And of at most this many rows: short rows would otherwise make a batch of a hundred thousand replies. */
const BATCH_ROWS = 8192;
/** Batches sent and not yet counted, per thread: enough to keep every worker busy, few enough to bound memory. */
const BATCHES_OUT_PER_THREAD = 2;
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(2100, 0, 1);

type FieldRole = SubjectKind | 'time' | null;

interface FieldState {
  role: FieldRole;
  samples: unknown[];
}

interface CredentialState {
  ruleId: string;
  provider: string;
  occurrences: number;
}

/** A batch's matches, row by row; or why detection failed for its rows. */
type BatchOutcome = { matches: SecretMatch[][] } | { rows: number; error: unknown };

/** Milliseconds from an epoch number (seconds or ms) or a date string; undefined when it is not a plausible time. */
function toTime(v: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof v === 'number') ms = v > 1e12 ? v : v > 1e9 ? v * 1000 : undefined;
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) {
    const iso = v.length >= 19 && v[10] === ' ' ? `${v.slice(0, 10)}T${v.slice(11)}` : v;
    ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(iso) || iso.length === 10 ? iso : `${iso}Z`);
  } else if (typeof v === 'string' && /^\d{10}(\d{3})?$/.test(v)) ms = toTime(Number(v));
  return ms !== undefined && ms >= EARLIEST && ms < LATEST ? ms : undefined;
}

class TriageAccumulator {
  readonly fields = new Map<string, FieldState>();
  readonly credentials = new Map<string, CredentialState>();
  /** Warden keys by fingerprint, held only until they are looked up. */
  readonly wardenSecrets = new Map<string, string>();
  readonly subjects = new Map<SubjectKind, { fields: Set<string>; rows: number; counts: Map<string, number> }>();
  readonly timeFields = new Set<string>();
  minTime = Infinity;
  maxTime = -Infinity;
  occurrences = 0;
  rows = 0;
  bytes = 0;
  /** Rows whose credentials were not looked for (a detection worker failed), and the first reason. */
  unsearched: { rows: number; error: unknown } | undefined;
  private readonly configured = new Map<string, SubjectKind>();
  private readonly configuredKinds = new Set<SubjectKind>();
  private readonly fingerprintKey: Buffer | string;
  private readonly detection: DetectionPool;
  private readonly maxBatchesOut: number;
  /** Texts of the rows read since the last batch was sent. */
  private batch: string[] = [];
  private batchChars = 0;
  /** Batches sent, oldest first: they are counted in the order read. */
  private readonly batchesOut: Array<Promise<BatchOutcome>> = [];

  constructor(detector: Detector, options: Pick<TriageOptions, 'fingerprintKey' | 'subjectFields' | 'threads' | 'workersFromChars'>) {
    this.fingerprintKey = options.fingerprintKey;
    const threads = Math.max(1, options.threads ?? availableParallelism());
    this.detection = new DetectionPool({
      detector,
      fingerprintKey: Buffer.from(options.fingerprintKey),
      threads,
      workersFromChars: options.workersFromChars,
    });
    this.maxBatchesOut = threads * BATCHES_OUT_PER_THREAD;
    const subjectFields = options.subjectFields ?? {};
    for (const kind of SUBJECT_KINDS) {
      this.subjects.set(kind, { fields: new Set(), rows: 0, counts: new Map() });
      for (const f of subjectFields[kind] ?? []) {
        this.configured.set(f, kind);
        this.configuredKinds.add(kind);
      }
    }
  }

  private roleOf(path: string, name: string): FieldRole {
    const configured = this.configured.get(path) ?? this.configured.get(name);
    if (configured) return configured;
    const n = normalizeColumnName(name);
    if (TIME_NAMES.test(n)) return 'time';
    for (const kind of SUBJECT_KINDS) {
      if (this.configuredKinds.has(kind)) continue;
      if (SUBJECT_NAMES[kind].test(n)) return kind;
    }
    return null;
  }

  private field(path: string, name: string): FieldState | undefined {
    let state = this.fields.get(path);
    if (!state && this.fields.size < MAX_FIELDS) {
      state = { role: this.roleOf(path, name), samples: [] };
      this.fields.set(path, state);
    }
    return state;
  }

  /**
   * Counts a row's fields, subjects and time here, and queues its text for detection. When a batch went
   * out and too many are out, the promise returned says when to read on (backpressure).
   */
  add(text: string, bytes: number, fields: Record<string, unknown> | undefined, part: string, live: boolean): Promise<void> | undefined {
    this.rows++;
    this.bytes += bytes;
    this.countFields(text, fields, part, live);
    this.batch.push(text);
    this.batchChars += text.length;
    return this.batchChars >= BATCH_CHARS || this.batch.length >= BATCH_ROWS ? this.sendBatch() : undefined;
  }

  /** Sends the last batch and counts every batch still out, then stops the detection workers. */
  async finish(): Promise<void> {
    try {
      if (this.batch.length) await this.sendBatch();
      while (this.batchesOut.length) await this.countOldestBatch();
    } finally {
      await this.detection.close();
    }
  }

  private sendBatch(): Promise<void> | undefined {
    const texts = this.batch;
    this.batch = [];
    this.batchChars = 0;
    this.batchesOut.push(
      this.detection.scan(texts).then(
        (matches) => ({ matches }),
        (error: unknown) => ({ rows: texts.length, error }),
      ),
    );
    return this.batchesOut.length > this.maxBatchesOut ? this.countOldestBatch() : undefined;
  }

  /** Counted in the order read, whichever thread answers first: the maps iterate as they did on one thread. */
  private async countOldestBatch(): Promise<void> {
    const outcome = await this.batchesOut.shift()!;
    if ('error' in outcome) {
      this.unsearched ??= { rows: 0, error: outcome.error };
      this.unsearched.rows += outcome.rows;
      return;
    }
    for (const matches of outcome.matches) for (const m of matches) this.countCredential(m);
  }

  private countCredential(m: SecretMatch): void {
    const fp = fingerprintSecret(m.ruleId, m.secret, this.fingerprintKey);
    this.occurrences++;
    const c = this.credentials.get(fp);
    if (c) c.occurrences++;
    else this.credentials.set(fp, { ruleId: m.ruleId, provider: m.provider, occurrences: 1 });
    if (m.ruleId === WARDEN_RULE && !this.wardenSecrets.has(fp)) this.wardenSecrets.set(fp, m.secret);
  }

  private countFields(text: string, fields: Record<string, unknown> | undefined, part: string, live: boolean): void {
    if (!fields) {
      const state = this.field('line', 'line');
      if (state && state.samples.length < SAMPLE_PER_FIELD) state.samples.push(text);
      return;
    }
    let rowSubjects: Array<[SubjectKind, string, string]> | undefined;
    const visit = (obj: Record<string, unknown>, prefix: string, depth: number) => {
      for (const key in obj) {
        const value = obj[key];
        if (value === null || value === undefined || value === '') continue;
        const path = prefix ? `${prefix}.${key}` : live ? `${part}.${key}` : key;
        if (typeof value === 'object' && !Array.isArray(value) && depth < MAX_DEPTH) {
          visit(value as Record<string, unknown>, path, depth + 1);
          continue;
        }
        const state = this.field(path, key);
        if (!state) continue;
        if (state.samples.length < SAMPLE_PER_FIELD) state.samples.push(value);
        if (state.role === 'time') {
          const t = toTime(value);
          if (t !== undefined) {
            if (t < this.minTime) this.minTime = t;
            if (t > this.maxTime) this.maxTime = t;
            this.timeFields.add(path);
          }
        } else if (state.role && (typeof value === 'string' || typeof value === 'number')) {
          (rowSubjects ??= []).push([state.role, String(value), path]);
        }
      }
    };
    visit(fields, '', 0);
    if (!rowSubjects) return;
    // A row counts once per subject even when two fields name the same one.
    const seen = new Set<string>();
    const kindsSeen = new Set<SubjectKind>();
    for (const [kind, id, path] of rowSubjects) {
      const s = this.subjects.get(kind)!;
      s.fields.add(path);
      if (!kindsSeen.has(kind)) {
        kindsSeen.add(kind);
        s.rows++;
      }
      const key = `${kind}\0${id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      s.counts.set(id, (s.counts.get(id) ?? 0) + 1);
    }
  }

  categories(detector: Detector): ExposedCategory[] {
    const byCategory = new Map<string, ExposedCategory>();
    for (const [path, state] of this.fields) {
      if (state.role || state.samples.length === 0) continue;
      const name = path.slice(path.lastIndexOf('.') + 1);
      const decided = classifyColumn({ name, type: 'string' }, state.samples, { detector, fingerprintKey: this.fingerprintKey });
      for (const d of decided.categories) {
        const c = byCategory.get(d.category) ?? { category: d.category, confidence: 0, fields: [] };
        c.confidence = Math.max(c.confidence, d.confidence);
        c.fields.push(path);
        byCategory.set(d.category, c);
      }
    }
    if (this.occurrences > 0 && !byCategory.has('credential')) byCategory.set('credential', { category: 'credential', confidence: 1, fields: [] });
    return [...byCategory.values()].sort((a, b) => b.confidence - a.confidence || a.category.localeCompare(b.category));
  }

  subjectSummaries(): SubjectSummary[] {
    return SUBJECT_KINDS.map((kind) => {
      const s = this.subjects.get(kind)!;
      const counts = [...s.counts].map(([id, rows]) => ({ id, rows })).sort((a, b) => b.rows - a.rows || a.id.localeCompare(b.id));
      return { kind, fields: [...s.fields].sort(), distinct: counts.length, rows: s.rows, counts };
    }).filter((s) => s.distinct > 0);
  }
}

const CONVERSATION = new Set(['chat-transcript', 'prompt', 'completion', 'tool-call']);

/** MITRE ATLAS techniques the exposure shows (atlas-data, 2026-05). */
function atlasTags(credentials: number, categories: ExposedCategory[], live: boolean): AtlasTag[] {
  const tags: AtlasTag[] = [];
  if (credentials > 0) tags.push({ id: 'AML.T0055', name: 'Unsecured Credentials', reason: `${credentials} credential occurrence(s) in the exposed data` });
  const convo = categories.filter((c) => CONVERSATION.has(c.category)).map((c) => c.category);
  if (convo.length) tags.push({ id: 'AML.T0057', name: 'LLM Data Leakage', reason: `exposed data holds ${convo.join(', ')}` });
  if (live) tags.push({ id: 'AML.T0036', name: 'Data from Information Repositories', reason: 'the data sat in a store readable without the owner’s consent' });
  return tags;
}

async function resolveWardenKeys(acc: TriageAccumulator, options: TriageOptions, source: string): Promise<WardenKeyFinding[]> {
  const out: WardenKeyFinding[] = [];
  const actor = options.actor ?? 'warden-incident';
  for (const [fingerprint, secret] of acc.wardenSecrets) {
    const occurrences = acc.credentials.get(fingerprint)?.occurrences ?? 0;
    const info = options.keys ? await options.keys.identify(secret) : null;
    if (!info || !options.keys) {
      out.push({ fingerprint, occurrences, keyId: null, owner: null, name: null, scopes: null, action: 'not-in-store' });
      continue;
    }
    if (info.status === 'canary') {
      // A canary is evidence, not a leaked key: left as it is, it reports whoever uses what they read here.
      out.push({ fingerprint, occurrences, keyId: info.id, owner: null, name: null, scopes: null, action: 'canary-present' });
      continue;
    }
    let action: WardenKeyFinding['action'] = info.status === 'revoked' ? 'already-revoked' : 'would-revoke';
    if (action === 'would-revoke' && options.revoke) {
      const reason = options.incident ? `exposed: incident ${options.incident.id}, found in ${source}` : `exposed: found in ${source}`;
      const revoked = await options.keys.revoke(info.id, reason, { actor, source: 'incident' });
      action = 'revoked';
      await options.incident?.store.record(options.incident.id, {
        type: 'key-revoked',
        message: `Revoked Warden key ${info.id} of ${info.owner}`,
        happenedAt: revoked.revokedAt ?? Date.now(),
        actor,
        details: { keyId: info.id, owner: info.owner, fingerprint, source },
      });
    }
    out.push({ fingerprint, occurrences, keyId: info.id, owner: info.owner, name: info.name, scopes: [...info.scopes], action });
  }
  acc.wardenSecrets.clear();
  return out.sort((a, b) => (a.owner ?? '\uffff').localeCompare(b.owner ?? '\uffff') || a.fingerprint.localeCompare(b.fingerprint));
}

function thirdParty(acc: TriageAccumulator, detector: Detector): ProviderCredentials[] {
  const specs = new Map(detector.rules.map((r) => [r.spec.id, r.spec]));
  const providers = new Map<string, ProviderCredentials>();
  for (const [fingerprint, c] of acc.credentials) {
    if (c.ruleId === WARDEN_RULE) continue;
    const p = providers.get(c.provider) ?? { provider: c.provider, rules: [], distinct: 0, occurrences: 0 };
    let rule = p.rules.find((r) => r.ruleId === c.ruleId);
    if (!rule) {
      const spec = specs.get(c.ruleId);
      rule = { ruleId: c.ruleId, title: spec?.title ?? c.ruleId, rotateUrl: spec?.rotateUrl ?? null, fingerprints: [] };
      p.rules.push(rule);
    }
    rule.fingerprints.push({ fingerprint, occurrences: c.occurrences });
    p.distinct++;
    p.occurrences += c.occurrences;
    providers.set(c.provider, p);
  }
  for (const p of providers.values()) {
    p.rules.sort((a, b) => a.ruleId.localeCompare(b.ruleId));
    for (const r of p.rules) r.fingerprints.sort((a, b) => b.occurrences - a.occurrences || a.fingerprint.localeCompare(b.fingerprint));
  }
  return [...providers.values()].sort((a, b) => b.distinct - a.distinct || a.provider.localeCompare(b.provider));
}

interface ReadOutcome {
  parts: TriageResult['parts'];
  errors: TriageResult['errors'];
  /** Live tables: where each stood before it was read. */
  cursors: TableCursors;
}

/** Passes every record of `source` through the accumulator; an aborted read (its deadline, or shutdown) stops, and says so. */
async function readInto(acc: TriageAccumulator, source: string, display: string, live: boolean, options: TriageOptions): Promise<ReadOutcome> {
  const out: ReadOutcome = { parts: [], errors: [], cursors: {} };
  const { signal } = options;
  try {
    // An aborted triage reads nothing more: what it read so far still counts.
    for await (const item of signal?.aborted ? [] : readSource(source, options)) {
      if (signal?.aborted) break;
      if ('partEnd' in item) {
        out.parts.push({ name: item.partEnd, rows: item.rows, truncated: item.truncated });
        if (item.error) out.errors.push({ part: item.partEnd, message: item.error });
        if (item.cursor) out.cursors[item.partEnd] = item.cursor;
        continue;
      }
      const detectionBehind = acc.add(item.text, item.bytes, item.fields, item.part, live);
      if (detectionBehind) await detectionBehind;
    }
  } catch (err) {
    out.errors.push({ part: display, message: readableError(err) });
  } finally {
    // The rows read count however reading ended; no detection worker outlives the read.
    await acc.finish();
  }
  if (acc.unsearched)
    out.errors.push({ part: display, message: `credentials not looked for in ${acc.unsearched.rows} rows: ${readableError(acc.unsearched.error)}` });
  // Unknown is not clean: a triage cut short says so, whatever it read before.
  if (signal?.aborted) out.errors.push({ part: display, message: `stopped before the end: ${(signal.reason as Error | undefined)?.message ?? 'aborted'}` });
  // Error text can come from the store itself: it is kept, but never with a secret in it.
  const detector = options.detector ?? getDefaultDetector();
  for (const e of out.errors) e.message = scrub(e.message, { detector, format: 'text' });
  return out;
}

/** A triage that did not read all of its source: failed (exit 2 when the source as given cannot be read, 3 when reading it failed) or partial (exit 3). */
export class TriageFailedError extends WardenError {
  constructor(result: TriageResult) {
    const failed = result.status === 'failed';
    super(
      failed
        ? `triage of ${result.source} failed: ${result.failure?.reason ?? 'nothing read'} (recorded; no total changed)`
        : `triage of ${result.source} is partial: ${result.errors.length} part(s) not read (${reasonOf(result.source, result.errors)}); what was read is counted`,
      failed ? 'TRIAGE_FAILED' : 'TRIAGE_PARTIAL',
      result.failure?.kind === 'input' ? 2 : 3,
    );
    this.name = 'TriageFailedError';
  }
}

/** Complete: no error. Failed: errors and nothing read (no row, and no part that ended without one). Else partial. */
function statusOf(rows: number, outcome: Pick<ReadOutcome, 'parts' | 'errors'>): TriageStatus {
  if (outcome.errors.length === 0) return 'complete';
  const unread = new Set(outcome.errors.map((e) => e.part));
  return rows === 0 && outcome.parts.every((p) => unread.has(p.name)) ? 'failed' : 'partial';
}

const reasonOf = (display: string, errors: TriageResult['errors']) =>
  errors.map((e) => (e.part === display ? e.message : `${e.part}: ${e.message}`)).join('; ');

/** Records a triage that read nothing on the timeline; no result is saved, so no total changes. */
async function recordFailure(
  identity: SourceIdentity,
  kind: 'input' | 'run',
  outcome: Pick<ReadOutcome, 'parts' | 'errors'>,
  started: number,
  options: TriageOptions,
): Promise<TriageResult> {
  const reason = reasonOf(identity.display, outcome.errors);
  const result: TriageResult = {
    source: identity.display,
    sourceKey: identity.key,
    status: 'failed',
    failure: { kind, reason },
    bytes: 0,
    rows: 0,
    parts: outcome.parts,
    durationMs: Math.round(performance.now() - started),
    timeRange: null,
    credentials: { occurrences: 0, distinct: 0, warden: [], thirdParty: [] },
    subjects: [],
    categories: [],
    atlas: [],
    errors: outcome.errors,
  };
  await options.incident?.store.record(options.incident.id, {
    type: 'triage-failed',
    message: `Triage of ${identity.display} failed${kind === 'input' ? ' (bad input)' : ''}: ${reason}`,
    actor: options.actor ?? 'warden-incident',
    details: { source: identity.display, sourceKey: identity.key, status: 'failed', failure: kind, errors: outcome.errors },
  });
  return result;
}

/**
 * Reads `source` once (a dump, a folder, or a live store's DSN) and reports what it exposes. With
 * `incident`, the result replaces that incident's earlier result for the same source (see
 * `identifySource`), and the timeline keeps both. A source that cannot be read at all yields a `failed`
 * result, recorded on the timeline only; one read in part yields a `partial` result that counts what was read.
 */
export async function triage(source: string, options: TriageOptions): Promise<TriageResult> {
  const started = performance.now();
  // An incident that does not exist is refused before anything is read (IncidentNotFoundError).
  if (options.incident) await options.incident.store.get(options.incident.id);
  const detector = options.detector ?? getDefaultDetector();
  let identity: SourceIdentity;
  try {
    identity = identifySource(source, options.env ?? process.env);
  } catch (err) {
    if (!(err instanceof TriageSourceError)) throw err;
    return recordFailure(
      { display: err.display, key: err.display },
      'input',
      { parts: [], errors: [{ part: err.display, message: err.reason }] },
      started,
      options,
    );
  }
  const live = isLiveSource(source);
  const display = identity.display;
  const acc = new TriageAccumulator(detector, options);
  const { parts, errors, cursors } = await readInto(acc, live ? source : display, display, live, { ...options, increment: undefined });
  if (statusOf(acc.rows, { parts, errors }) === 'failed') return recordFailure(identity, 'run', { parts, errors }, started, options);
  const warden = await resolveWardenKeys(acc, options, display);
  const categories = acc.categories(detector);
  const result: TriageResult = {
    source: display,
    sourceKey: identity.key,
    status: errors.length ? 'partial' : 'complete',
    bytes: acc.bytes,
    rows: acc.rows,
    parts,
    durationMs: Math.round(performance.now() - started),
    timeRange:
      acc.minTime <= acc.maxTime
        ? { from: new Date(acc.minTime).toISOString(), to: new Date(acc.maxTime).toISOString(), fields: [...acc.timeFields].sort() }
        : null,
    credentials: { occurrences: acc.occurrences, distinct: acc.credentials.size, warden, thirdParty: thirdParty(acc, detector) },
    subjects: acc.subjectSummaries(),
    categories,
    atlas: atlasTags(acc.occurrences, categories, live),
    errors,
  };
  if (options.incident) {
    const replaced = await options.incident.store.saveTriage(options.incident.id, result);
    const wouldRevoke = warden.filter((w) => w.action === 'would-revoke').length;
    await options.incident.store.record(options.incident.id, {
      type: 'triage',
      message:
        `Triaged ${display}${errors.length ? ' in part' : ''}: ${result.rows} rows, ${result.credentials.distinct} distinct credentials (${warden.length} Warden), ${result.subjects.map((s) => `${s.distinct} ${s.kind}s`).join(', ') || 'no subjects'}` +
        (wouldRevoke ? `; ${wouldRevoke} Warden key(s) would be revoked with --revoke` : '') +
        (warden.some((w) => w.action === 'canary-present') ? "; canary present: this store's contents would be detected if used" : '') +
        (errors.length ? `; not read: ${reasonOf(display, errors)}` : '') +
        (replaced ? `; replaces the earlier triage of this source (${replaced.rows} rows)` : ''),
      actor: options.actor ?? 'warden-incident',
      details: {
        source: display,
        sourceKey: identity.key,
        status: result.status,
        rows: result.rows,
        credentials: result.credentials.distinct,
        revoked: warden.filter((w) => w.action === 'revoked').length,
        wouldRevoke,
        ...(errors.length ? { errors } : {}),
        ...(replaced ? { replaces: { rows: replaced.rows, status: replaced.status ?? 'complete' } } : {}),
        ...(Object.keys(cursors).length ? { cursors } : {}),
      },
    });
  }
  return result;
}

export interface RetriageOptions extends TriageOptions {
  incident: { store: IncidentStore; id: string };
  /** At most this many rows over all tables (the newest of each table's new rows first). */
  rows: number;
}

/** A credential first seen by an incremental triage: by fingerprint, never by value. */
export interface NewCredential {
  fingerprint: string;
  ruleId: string;
  provider: string;
  occurrences: number;
}

export interface RetriageResult {
  source: string;
  /** As for a triage: partial when a table was not read in full (its deadline, the row budget, an error), failed when nothing was read. */
  status: TriageStatus;
  /** Rows read this time: written since the last triage (a row at the cursor's own time may be read twice). */
  rows: number;
  parts: TriageResult['parts'];
  /** Credentials no earlier triage of this incident saw; a known one found again is not new. */
  newCredentials: NewCredential[];
  /** Warden keys in the new rows: revoked now (with `revoke`), already revoked, or would be revoked. */
  warden: WardenKeyFinding[];
  errors: TriageResult['errors'];
  durationMs: number;
}

/** The fingerprints an incident's triages have seen, and the cursors its last live triage left. */
async function incidentState(incident: RetriageOptions['incident']): Promise<{ known: Set<string>; since: TableCursors }> {
  const known = new Set<string>();
  // Every result ever saved, replaced ones too: a credential seen before is not new again.
  for (const result of await incident.store.triageResults(incident.id, 'all')) {
    for (const w of result.credentials.warden) known.add(w.fingerprint);
    for (const p of result.credentials.thirdParty) for (const r of p.rules) for (const f of r.fingerprints) known.add(f.fingerprint);
  }
  let since: TableCursors = {};
  for (const e of await incident.store.timeline(incident.id)) {
    if (e.type === 'retriage' && Array.isArray(e.details.newCredentials)) for (const c of e.details.newCredentials as NewCredential[]) known.add(c.fingerprint);
    // Later entries (by time, then by the order recorded) carry the newer cursors; a table keeps its last one.
    if ((e.type === 'triage' || e.type === 'retriage') && e.details.cursors && typeof e.details.cursors === 'object')
      since = { ...since, ...(e.details.cursors as TableCursors) };
  }
  return { known, since };
}

/**
 * Incremental triage of an open incident's live store: only the rows written since its last triage (per
 * table, by the cursors that triage recorded), newest first, within a row budget. New Warden keys are
 * revoked at once (with `revoke`); credentials the incident has not seen are appended to its timeline as
 * one `retriage` entry, with the tables' new cursors. Nothing is saved as a triage result: the incident's
 * totals stay those of its triages, and the new rows are counted only in the `retriage` entries.
 */
export async function retriage(source: string, options: RetriageOptions): Promise<RetriageResult> {
  const started = performance.now();
  const detector = options.detector ?? getDefaultDetector();
  const display = identifySource(source, options.env ?? process.env).display;
  const { known, since } = await incidentState(options.incident);
  // The tables its earlier triages read stay in the re-read when the latest scan no longer flags them.
  const tables = options.tables ? [...new Set([...options.tables, ...Object.keys(since)])] : undefined;
  // An empty list would mean every table of the server: broader than anything a triage of this incident read.
  if (tables?.length === 0)
    return {
      source: display,
      status: 'failed',
      rows: 0,
      parts: [],
      newCredentials: [],
      warden: [],
      errors: [{ part: display, message: 'no table to re-read' }],
      durationMs: 0,
    };
  const acc = new TriageAccumulator(detector, options);
  const { parts, errors, cursors } = await readInto(acc, source, display, true, {
    ...options,
    ...(tables ? { tables } : {}),
    increment: { since, rows: options.rows },
  });
  // A known key is looked up again (revoked now if it was only listed before and the policy has changed); reported only when acted on.
  const warden = (await resolveWardenKeys(acc, options, display)).filter((w) => !known.has(w.fingerprint) || w.action === 'revoked');
  const newCredentials = [...acc.credentials]
    .filter(([fp]) => !known.has(fp))
    .map(([fingerprint, c]) => ({ fingerprint, ruleId: c.ruleId, provider: c.provider, occurrences: c.occurrences }))
    .sort((a, b) => a.ruleId.localeCompare(b.ruleId) || a.fingerprint.localeCompare(b.fingerprint));
  const status = statusOf(acc.rows, { parts, errors });
  const result: RetriageResult = {
    source: display,
    status,
    rows: acc.rows,
    parts,
    newCredentials,
    warden,
    errors,
    durationMs: Math.round(performance.now() - started),
  };
  const revoked = warden.filter((w) => w.action === 'revoked').length;
  const wouldRevoke = warden.filter((w) => w.action === 'would-revoke').length;
  const cut = parts.filter((p) => p.truncated).length;
  await options.incident.store.record(options.incident.id, {
    type: 'retriage',
    message:
      status === 'failed'
        ? `Re-triage of ${display} failed, nothing read: ${reasonOf(display, errors)}`
        : `Re-triaged rows written since the last triage of ${display}: ${acc.rows} rows, ${newCredentials.length} new credentials (${warden.length} Warden, ${revoked} revoked${wouldRevoke ? `, ${wouldRevoke} would be revoked with --revoke` : ''})${cut ? `; ${cut} table(s) not read in full (see details)` : ''}`,
    actor: options.actor ?? 'warden-incident',
    details: { source: display, status, rows: acc.rows, newCredentials, revoked, wouldRevoke, parts, errors, cursors },
  });
  return result;
}

/** A triage result fit to print: subject ids are personal data, so each kind keeps its counts and the id lists stay in the incident store. */
export function withoutSubjectIds(result: TriageResult): Omit<TriageResult, 'subjects'> & { subjects: Array<Omit<SubjectSummary, 'counts'>> } {
  return { ...result, subjects: result.subjects.map(({ counts: _counts, ...s }) => s) };
}
