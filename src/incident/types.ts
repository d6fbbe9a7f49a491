import type { Severity } from '../detect/index.js';

/** The shipped catalogue: one playbook per kind in `playbooks/<kind>.yaml`. */
export const INCIDENT_KINDS = [
  'exposed-log-store',
  'leaked-api-key',
  'prompt-history-exposure',
  'model-weights-exposure',
  'training-data-exposure',
  'vector-store-exposure',
  'compromised-model-server',
  'canary-tripped',
] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export type IncidentStatus = 'open' | 'contained' | 'closed';
export const INCIDENT_STATUSES: readonly IncidentStatus[] = ['open', 'contained', 'closed'];

/** The events that start legal clocks. GDPR and NIS2 run from awareness, SEC 8-K from materiality. */
export type ClockStart = 'detected' | 'aware' | 'materiality';

/** A notification duty: `within` after its start event, counted in hours, calendar days, months or business days. */
export interface DeadlineRule {
  id: string;
  title: string;
  from: ClockStart;
  within: { hours?: number; days?: number; months?: number; businessDays?: number };
  /** Start from when this other deadline was met (recorded), else from its due time (NIS2 final report). */
  after?: string;
}

export interface IncidentRegimes {
  /** Deadline rules in force for this incident (shipped regimes expanded, plus custom ones). */
  rules: DeadlineRule[];
  /** YYYY-MM-DD dates business-day clocks skip, beside Saturdays and Sundays. */
  holidays: string[];
}

export interface Incident {
  id: string;
  kind: IncidentKind;
  title: string;
  severity: Severity;
  status: IncidentStatus;
  playbookVersion: number;
  detectedAt: number;
  awareAt: number;
  materialityAt: number | null;
  regimes: IncidentRegimes;
  createdAt: number;
  createdBy: string;
}

/** One thing that happened: `happenedAt` is when it happened, `recordedAt` when Warden learnt of it. */
export interface TimelineEntry {
  seq: number;
  happenedAt: number;
  recordedAt: number;
  actor: string;
  type: string;
  message: string;
  details: Record<string, unknown>;
}

export interface Deadline {
  id: string;
  title: string;
  from: ClockStart;
  /** Null when the start event has not happened yet (materiality not determined). */
  dueAt: number | null;
  /** When it was recorded as met (`warden incident note --met <id>`). */
  metAt: number | null;
  state: 'met' | 'overdue' | 'due' | 'not-started';
}

/** One Warden key the triage found: identified by fingerprint, never by value. */
export interface WardenKeyFinding {
  fingerprint: string;
  occurrences: number;
  /** Null when the key is well formed but not in this key store (another deployment's, or deleted). */
  keyId: string | null;
  owner: string | null;
  name: string | null;
  scopes: string[] | null;
  /**
   * State after the triage: revoked now, already revoked before, would be revoked (no --revoke), not ours, or
   * one of our canaries: no live key leaked there, and whoever uses it will be seen.
   */
  action: 'revoked' | 'already-revoked' | 'would-revoke' | 'not-in-store' | 'canary-present';
}

export interface ProviderCredentials {
  provider: string;
  /** Rule ids seen for this provider, with the distinct fingerprints and occurrences of each. */
  rules: Array<{ ruleId: string; title: string; rotateUrl: string | null; fingerprints: Array<{ fingerprint: string; occurrences: number }> }>;
  distinct: number;
  occurrences: number;
}

export type SubjectKind = 'user' | 'tenant' | 'session';
export const SUBJECT_KINDS: readonly SubjectKind[] = ['user', 'tenant', 'session'];

export interface SubjectSummary {
  kind: SubjectKind;
  /** The fields (dotted paths, or table.column) the ids were read from. */
  fields: string[];
  distinct: number;
  /** Rows carrying an id of this kind. */
  rows: number;
  /** Every id with its row count, most rows first. These are personal data: stored in the incident, shown only in the report. */
  counts: Array<{ id: string; rows: number }>;
}

export interface ExposedCategory {
  /** A category of `warden classify`. */
  category: string;
  confidence: number;
  fields: string[];
}

export interface AtlasTag {
  id: string;
  name: string;
  reason: string;
}

/**
 * complete: every part was read. partial: some parts could not be read; what was read is counted.
 * failed: nothing could be read; a failed triage is not kept as a result and changes no total.
 */
export type TriageStatus = 'complete' | 'partial' | 'failed';

export interface TriageResult {
  /** Where the data came from, without any password. */
  source: string;
  /** What makes two triages the same source (see `identifySource`): the later replaces the earlier in the incident's totals. */
  sourceKey: string;
  status: TriageStatus;
  /** Why a failed triage read nothing: the source as given cannot be read (`input`), or reading it failed (`run`). */
  failure?: { kind: 'input' | 'run'; reason: string };
  bytes: number;
  rows: number;
  /** Tables (live stores) or files (dumps) read, with rows each and whether the row cap cut them. */
  parts: Array<{ name: string; rows: number; truncated: boolean }>;
  durationMs: number;
  timeRange: { from: string; to: string; fields: string[] } | null;
  credentials: { occurrences: number; distinct: number; warden: WardenKeyFinding[]; thirdParty: ProviderCredentials[] };
  subjects: SubjectSummary[];
  categories: ExposedCategory[];
  atlas: AtlasTag[];
  /** Files or tables that could not be read, with why; never row content. */
  errors: Array<{ part: string; message: string }>;
}
