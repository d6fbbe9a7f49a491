import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { SEVERITIES, type Severity } from '../severity.js';
import { WardenError } from '../errors.js';
import { openStore, type Store } from '../store/index.js';
import { computeDeadlines } from './deadlines.js';
import { getPlaybook, type Playbook, type PlaybookStep } from './playbook.js';
import { INCIDENT_MIGRATIONS } from './schema.js';
import {
  INCIDENT_KINDS,
  INCIDENT_STATUSES,
  type Deadline,
  type Incident,
  type IncidentKind,
  type IncidentRegimes,
  type IncidentStatus,
  type TimelineEntry,
  type TriageResult,
} from './types.js';

export class IncidentNotFoundError extends WardenError {
  constructor(id: string) {
    super(`no incident with id ${JSON.stringify(id)}`, 'INCIDENT_NOT_FOUND', 2);
  }
}

export class IncidentOptionsError extends WardenError {
  constructor(message: string) {
    super(message, 'INCIDENT_OPTIONS_INVALID', 2);
  }
}

export interface OpenIncidentOptions {
  kind: IncidentKind;
  /** Default: the playbook's title. */
  title?: string;
  /** Default: the playbook's severity. */
  severity?: Severity;
  /** When the incident was detected (epoch ms); default now. */
  detectedAt?: number;
  /** When the organisation became aware (GDPR/NIS2 clocks start here); default detectedAt. */
  awareAt?: number;
  /** When materiality was determined (SEC 8-K clock); null until it is. */
  materialityAt?: number | null;
  regimes: IncidentRegimes;
  /** What opened it automatically (e.g. `scan:clickhouse:10.0.0.5:8123`), so a later run finds it again. */
  origin?: string;
}

export interface RecordEntry {
  type: string;
  message: string;
  /** Default: now. */
  happenedAt?: number;
  details?: Record<string, unknown>;
  actor?: string;
}

/** What a responder reports: something that happened, a playbook step done, a deadline met, a status or materiality change. */
export interface ProgressNote {
  message: string;
  /** Default: now. */
  happenedAt?: number;
  /** A step of the incident's playbook, now done. */
  step?: string;
  /** One of the incident's deadlines, met at `happenedAt`. */
  deadlineMet?: string;
  status?: IncidentStatus;
  /** When materiality was determined (starts the SEC clock). */
  materialityAt?: number;
  actor?: string;
}

/** What `warden incident status` shows: the incident, its deadlines and the steps still to do. */
export interface IncidentStatusView {
  incident: Incident;
  deadlines: Deadline[];
  playbook: Playbook;
  remainingSteps: PlaybookStep[];
  /** Steps recorded done (`note --step`), and automated steps Warden has done itself (`byWarden`). */
  doneSteps: Array<{ id: string; at: number; byWarden: boolean }>;
  latestTriage: TriageResult | null;
  timeline: TimelineEntry[];
}

function defaultActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'library';
  }
}

/** Fingerprints of the Warden keys revoked on this incident: by any of its triages and re-triages, or found already revoked. */
export function revokedKeyFingerprints(timeline: readonly TimelineEntry[], results: readonly TriageResult[]): Set<unknown> {
  const revoked = new Set(timeline.filter((e) => e.type === 'key-revoked').map((e) => e.details.fingerprint));
  for (const w of results.flatMap((r) => r.credentials.warden)) if (w.action === 'revoked' || w.action === 'already-revoked') revoked.add(w.fingerprint);
  return revoked;
}

/**
 * The automated steps Warden has done itself, with when: `triage` once every source triaged so far was
 * read in full (a partial one leaves it open), `revoke-warden-keys` once, in addition, no Warden key of
 * this store found in them is left to revoke (none found counts: there is nothing to revoke).
 */
function doneByWarden(playbook: Playbook, timeline: readonly TimelineEntry[], results: readonly TriageResult[]): Map<string, number> {
  const out = new Map<string, number>();
  const triages = timeline.filter((e) => e.type === 'triage');
  if (results.length === 0 || triages.length === 0 || results.some((r) => r.status === 'partial')) return out;
  const triagedAt = Math.max(...triages.map((e) => e.happenedAt));
  const revoked = revokedKeyFingerprints(timeline, results);
  const left = results.some((r) => r.credentials.warden.some((w) => w.action === 'would-revoke' && !revoked.has(w.fingerprint)));
  const revokedAt = Math.max(triagedAt, ...timeline.filter((e) => e.type === 'key-revoked').map((e) => e.happenedAt));
  for (const step of playbook.steps) {
    if (step.automated === 'triage') out.set(step.id, triagedAt);
    if (step.automated === 'revoke-warden-keys' && !left) out.set(step.id, revokedAt);
  }
  return out;
}

/** Results saved before sources had keys are told apart by their display form. */
const sourceKeyOf = (r: TriageResult) => (r.sourceKey as string | undefined) ?? r.source;

const newIncidentId = () => `inc_${randomBytes(8).toString('hex')}`;

function toIncident(r: Record<string, unknown>): Incident {
  return {
    id: String(r.id),
    kind: r.kind as IncidentKind,
    title: String(r.title),
    severity: r.severity as Severity,
    status: r.status as IncidentStatus,
    playbookVersion: Number(r.playbook_version),
    detectedAt: Number(r.detected_at),
    awareAt: Number(r.aware_at),
    materialityAt: r.materiality_at === null || r.materiality_at === undefined ? null : Number(r.materiality_at),
    regimes: JSON.parse(String(r.regimes)) as IncidentRegimes,
    createdAt: Number(r.created_at),
    createdBy: String(r.created_by),
  };
}

/** Incidents in a Warden store (SQLite by default, PostgreSQL when shared). */
export class IncidentStore {
  private constructor(
    readonly store: Store,
    private readonly ownsStore: boolean,
  ) {}

  /** Opens (and migrates) the incident tables: a store, or where to open one (default: the Warden store). */
  static async open(store?: Store | string): Promise<IncidentStore> {
    const owns = typeof store !== 'object';
    const s = typeof store === 'object' ? store : openStore(store);
    try {
      await s.migrate('incident', INCIDENT_MIGRATIONS);
    } catch (err) {
      if (owns) await s.close();
      throw err;
    }
    return new IncidentStore(s, owns);
  }

  async open(options: OpenIncidentOptions, actor = defaultActor()): Promise<Incident> {
    if (!INCIDENT_KINDS.includes(options.kind))
      throw new IncidentOptionsError(`unknown kind ${JSON.stringify(options.kind)} (known: ${INCIDENT_KINDS.join(', ')})`);
    const playbook = getPlaybook(options.kind);
    const severity = options.severity ?? playbook.severity;
    if (!SEVERITIES.includes(severity)) throw new IncidentOptionsError(`severity must be one of ${SEVERITIES.join(', ')}`);
    const now = Date.now();
    const detectedAt = options.detectedAt ?? now;
    const awareAt = options.awareAt ?? detectedAt;
    const materialityAt = options.materialityAt ?? null;
    for (const [name, at] of [
      ['detected', detectedAt],
      ['aware', awareAt],
      ['materiality', materialityAt],
    ] as const) {
      if (at !== null && !Number.isSafeInteger(at)) throw new IncidentOptionsError(`${name} time must be epoch milliseconds`);
    }
    if (awareAt < detectedAt) throw new IncidentOptionsError('awareness cannot come before detection');
    const incident: Incident = {
      id: newIncidentId(),
      kind: options.kind,
      title: options.title?.trim() || playbook.title,
      severity,
      status: 'open',
      playbookVersion: playbook.version,
      detectedAt,
      awareAt,
      materialityAt,
      regimes: options.regimes,
      createdAt: now,
      createdBy: actor,
    };
    await this.store.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO warden_incidents (id, kind, title, severity, status, playbook_version, detected_at, aware_at, materiality_at, regimes, created_at, created_by, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          incident.id,
          incident.kind,
          incident.title,
          severity,
          'open',
          playbook.version,
          detectedAt,
          awareAt,
          materialityAt,
          JSON.stringify(options.regimes),
          now,
          actor,
          options.origin ?? null,
        ],
      );
      const insert = 'INSERT INTO warden_incident_events (incident_id, happened_at, recorded_at, actor, type, message, details) VALUES (?, ?, ?, ?, ?, ?, ?)';
      await tx.run(insert, [incident.id, detectedAt, now, actor, 'detected', 'Incident detected', '{}']);
      if (awareAt !== detectedAt) await tx.run(insert, [incident.id, awareAt, now, actor, 'aware', 'Organisation became aware', '{}']);
      if (materialityAt !== null) await tx.run(insert, [incident.id, materialityAt, now, actor, 'materiality', 'Materiality determined', '{}']);
      await tx.run(insert, [
        incident.id,
        now,
        now,
        actor,
        'opened',
        `Opened as ${incident.kind} (playbook v${playbook.version}), severity ${severity}`,
        JSON.stringify({ kind: incident.kind, severity }),
      ]);
    });
    return incident;
  }

  async get(id: string): Promise<Incident> {
    const rows = await this.store.query('SELECT * FROM warden_incidents WHERE id = ?', [id]);
    if (!rows[0]) throw new IncidentNotFoundError(id);
    return toIncident(rows[0]);
  }

  /** The newest incident opened from `origin` that is not closed. */
  async findOpen(origin: string): Promise<Incident | undefined> {
    const rows = await this.store.query("SELECT * FROM warden_incidents WHERE origin = ? AND status <> 'closed' ORDER BY created_at DESC LIMIT 1", [origin]);
    return rows[0] ? toIncident(rows[0]) : undefined;
  }

  async list(): Promise<Incident[]> {
    return (await this.store.query('SELECT * FROM warden_incidents ORDER BY created_at DESC')).map(toIncident);
  }

  /** Appends to the timeline. */
  async record(id: string, entry: RecordEntry): Promise<TimelineEntry> {
    await this.get(id);
    const now = Date.now();
    const happenedAt = entry.happenedAt ?? now;
    if (!Number.isSafeInteger(happenedAt)) throw new IncidentOptionsError('happened-at must be epoch milliseconds');
    const actor = entry.actor ?? defaultActor();
    const details = entry.details ?? {};
    await this.store.run(
      'INSERT INTO warden_incident_events (incident_id, happened_at, recorded_at, actor, type, message, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [id, happenedAt, now, actor, entry.type, entry.message, JSON.stringify(details)],
    );
    const rows = await this.store.query<{ seq: number }>('SELECT max(seq) AS seq FROM warden_incident_events WHERE incident_id = ?', [id]);
    return { seq: Number(rows[0]?.seq), happenedAt, recordedAt: now, actor, type: entry.type, message: entry.message, details };
  }

  /**
   * Records a responder's note on the timeline, as a step done or a deadline met when it names one (which
   * must be the incident's own), then any materiality and status change it carries.
   */
  async recordProgress(id: string, note: ProgressNote): Promise<TimelineEntry> {
    const current = await this.get(id);
    if (note.step && !getPlaybook(current.kind).steps.some((s) => s.id === note.step))
      throw new IncidentOptionsError(`--step: ${current.kind} has no step ${note.step}`);
    if (note.deadlineMet && !current.regimes.rules.some((r) => r.id === note.deadlineMet))
      throw new IncidentOptionsError(`--met: this incident has no deadline ${note.deadlineMet}`);
    const type = note.step ? 'step-done' : note.deadlineMet ? 'deadline-met' : 'note';
    const details = note.step ? { step: note.step } : note.deadlineMet ? { deadline: note.deadlineMet } : {};
    const actor = note.actor !== undefined ? { actor: note.actor } : {};
    const entry = await this.record(id, {
      type,
      message: note.message,
      details,
      ...(note.happenedAt !== undefined ? { happenedAt: note.happenedAt } : {}),
      ...actor,
    });
    if (note.materialityAt !== undefined) await this.setMateriality(id, note.materialityAt, note.actor);
    if (note.status) await this.setStatus(id, note.status, note.actor);
    return entry;
  }

  /** Timeline in the order things happened (ties: the order they were recorded). */
  async timeline(id: string): Promise<TimelineEntry[]> {
    const rows = await this.store.query('SELECT * FROM warden_incident_events WHERE incident_id = ? ORDER BY happened_at, seq', [id]);
    return rows.map((r) => ({
      seq: Number(r.seq),
      happenedAt: Number(r.happened_at),
      recordedAt: Number(r.recorded_at),
      actor: String(r.actor),
      type: String(r.type),
      message: String(r.message),
      details: JSON.parse(String(r.details)) as Record<string, unknown>,
    }));
  }

  async setStatus(id: string, status: IncidentStatus, actor?: string): Promise<void> {
    if (!INCIDENT_STATUSES.includes(status)) throw new IncidentOptionsError(`status must be one of ${INCIDENT_STATUSES.join(', ')}`);
    const before = await this.get(id);
    if (before.status === status) return;
    await this.store.run('UPDATE warden_incidents SET status = ? WHERE id = ?', [status, id]);
    await this.record(id, {
      type: 'status',
      message: `Status ${before.status} → ${status}`,
      details: { from: before.status, to: status },
      ...(actor ? { actor } : {}),
    });
  }

  /** Sets the materiality time (starts the SEC clock) and records it. */
  async setMateriality(id: string, at: number, actor?: string): Promise<void> {
    await this.get(id);
    await this.store.run('UPDATE warden_incidents SET materiality_at = ? WHERE id = ?', [at, id]);
    await this.record(id, { type: 'materiality', message: 'Materiality determined', happenedAt: at, ...(actor ? { actor } : {}) });
  }

  /**
   * Keeps a triage result. It replaces the incident's earlier result for the same source (by `sourceKey`)
   * in `triageResults`, which is returned; the earlier stays in the store and on the timeline.
   */
  async saveTriage(id: string, result: TriageResult): Promise<TriageResult | undefined> {
    const replaced = (await this.triageResults(id)).find((r) => sourceKeyOf(r) === sourceKeyOf(result));
    await this.store.run('INSERT INTO warden_incident_triage (incident_id, recorded_at, result) VALUES (?, ?, ?)', [id, Date.now(), JSON.stringify(result)]);
    return replaced;
  }

  /**
   * The incident's triage results, oldest first: `current` (default) holds the latest of each source, so
   * totals count every source once; `all` holds every result ever saved, replaced ones too.
   */
  async triageResults(id: string, which: 'current' | 'all' = 'current'): Promise<TriageResult[]> {
    const rows = await this.store.query<{ result: string }>('SELECT result FROM warden_incident_triage WHERE incident_id = ? ORDER BY seq', [id]);
    const results = rows.map((r) => JSON.parse(r.result) as TriageResult);
    if (which === 'all') return results;
    const latest = new Map<string, TriageResult>();
    for (const r of results) {
      latest.delete(sourceKeyOf(r));
      latest.set(sourceKeyOf(r), r);
    }
    return [...latest.values()];
  }

  async status(id: string, now = Date.now()): Promise<IncidentStatusView> {
    const incident = await this.get(id);
    const timeline = await this.timeline(id);
    const met = new Map<string, number>();
    const done = new Map<string, number>();
    for (const e of timeline) {
      if (e.type === 'deadline-met' && typeof e.details.deadline === 'string') met.set(e.details.deadline, e.happenedAt);
      if (e.type === 'step-done' && typeof e.details.step === 'string') done.set(e.details.step, e.happenedAt);
    }
    const recorded = new Set(done.keys());
    const playbook = getPlaybook(incident.kind);
    const results = await this.triageResults(id);
    for (const [stepId, at] of doneByWarden(playbook, timeline, results)) if (!done.has(stepId)) done.set(stepId, at);
    const triage = await this.store.query<{ result: string }>('SELECT result FROM warden_incident_triage WHERE incident_id = ? ORDER BY seq DESC LIMIT 1', [
      id,
    ]);
    return {
      incident,
      deadlines: computeDeadlines(incident, met, now),
      playbook,
      remainingSteps: playbook.steps.filter((s) => !done.has(s.id)),
      doneSteps: [...done].map(([stepId, at]) => ({ id: stepId, at, byWarden: !recorded.has(stepId) })),
      latestTriage: triage[0] ? (JSON.parse(triage[0].result) as TriageResult) : null,
      timeline,
    };
  }

  async close(): Promise<void> {
    if (this.ownsStore) await this.store.close();
  }
}
