/**
 * Closing the loop: a scan finding of an open store that holds credentials or chat data becomes an
 * incident without a human step. The store is triaged through a read-only path (GET for ClickHouse, a
 * read-only snapshot for SQL stores, read commands for Redis), and, only when the caller's policy says so,
 * every Warden key found is revoked. `warden serve` calls this; so can any embedder.
 */
import type { Detector } from '../detect/index.js';
import { WardenError } from '../errors.js';
import { bracketHost } from '../host-port.js';
import type { KeyStore } from '../keys/index.js';
import { loadProbes, sensitiveTables, type Finding, type StoreReadPath } from '../scan/index.js';
import { buildRegimes } from './deadlines.js';
import type { IncidentStore } from './incident-store.js';
import { retriage, triage, type RetriageResult } from './triage.js';
import type { Incident, IncidentRegimes, TriageResult } from './types.js';

export interface ExposureResponseOptions {
  incidents: IncidentStore;
  /** Where Warden keys are looked up and revoked. */
  keys?: KeyStore;
  /** The explicit policy: revoke every Warden key found. Default false: the incident lists what would be revoked. */
  revokeWardenKeys?: boolean;
  fingerprintKey: Buffer | string;
  detector?: Detector;
  /** Default: GDPR only. */
  regimes?: IncidentRegimes;
  maxRowsPerTable?: number;
  /** A native-protocol ClickHouse finding (9000) is read over HTTP on this port (default 8123). */
  clickHouseHttpPort?: number;
  /** For the timeline and the key audit log (default `warden-serve`). */
  actor?: string;
  /** The triage stops after this long (default 5 minutes): a store that stalls must not hold the response. */
  triageTimeoutMs?: number;
  /** Aborting stops the triage at once (the daemon's shutdown, the run's response budget). */
  signal?: AbortSignal;
}

export const DEFAULT_TRIAGE_TIMEOUT_MS = 5 * 60_000;

export interface AbortDeadline {
  signal: AbortSignal;
  /** Stops the timer once the work is done. */
  clear(): void;
}

/** A signal that aborts after `ms` with an error naming `what`, or with `parent` (whichever comes first). */
export function startDeadline(ms: number, what: string, parent?: AbortSignal): AbortDeadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new WardenError(`${what} of ${ms} ms passed`, 'DEADLINE', 3)), ms);
  return { signal: parent ? AbortSignal.any([parent, controller.signal]) : controller.signal, clear: () => clearTimeout(timer) };
}

export interface ExposureResponse {
  /** False when the finding is not one this responds to; `reason` says why. */
  acted: boolean;
  reason: string;
  incident?: Incident;
  /** True when an open incident for the same finding already existed and was triaged again. */
  reopened?: boolean;
  triage?: TriageResult;
}

/**
 * True for an open store whose sampled rows held credentials or chat: the scan's own test for critical
 * (`secretsOrChat` in warden/scan), so the two cannot disagree.
 */
export function isCriticalExposure(finding: Finding): boolean {
  if (finding.auth !== 'none' || finding.severity !== 'critical') return false;
  return sensitiveTables(finding.evidence.databases ?? [], 'sampled').length > 0;
}

/**
 * How triage reads the store behind a finding: the read path its probe declares, as a connection string for
 * the anonymous caller the scan proved works (no password, ever). Undefined for a probe that declares none.
 */
async function readPathFor(finding: Finding, options: ExposureResponseOptions): Promise<{ dsn: string; path: StoreReadPath } | undefined> {
  const path = (await loadProbes()).find((p) => p.id === finding.probe)?.readPath;
  if (!path) return undefined;
  const port = path.overHttpPort ? (options.clickHouseHttpPort ?? 8123) : finding.port;
  return { dsn: `${path.scheme}://${path.user ? `${path.user}@` : ''}${bracketHost(finding.host)}:${port}${path.path}`, path };
}

/** The tables the scan flagged, as `database.table`: the exposed ones (chat by column name too), not every table of the server. */
function flaggedTables(finding: Finding): string[] {
  return sensitiveTables(finding.evidence.databases ?? [], 'by-name').map(({ database, table }) => `${database}.${table.name}`);
}

export async function respondToExposure(finding: Finding, options: ExposureResponseOptions): Promise<ExposureResponse> {
  if (!isCriticalExposure(finding)) return { acted: false, reason: 'not an open store holding credentials or chat data' };
  const read = await readPathFor(finding, options);
  if (!read) return { acted: false, reason: `no read-only triage path for ${finding.service}` };
  const actor = options.actor ?? 'warden-serve';
  const origin = `scan:${finding.id}`;
  const existing = await options.incidents.findOpen(origin);
  const incident =
    existing ??
    (await options.incidents.open(
      {
        kind: 'exposed-log-store',
        title: `Open ${finding.service} at ${finding.host}:${finding.port} holding credentials or chat data`,
        severity: 'critical',
        regimes: options.regimes ?? buildRegimes(['gdpr']),
        origin,
      },
      actor,
    ));
  await options.incidents.record(incident.id, {
    type: 'scan-finding',
    message: `Scan found ${finding.title} (${finding.id}, auth ${finding.auth}, severity ${finding.severity})`,
    actor,
    details: { findingId: finding.id, probe: finding.probe, service: finding.service },
  });
  const tables = flaggedTables(finding);
  const result = await withTriageDeadline(options, (signal) =>
    triage(read.dsn, {
      ...discoveredHostTriage(options, incident.id, actor, signal),
      ...(read.path.keyspace ? {} : { tables }),
      ...(options.maxRowsPerTable ? { maxRowsPerTable: options.maxRowsPerTable } : {}),
    }),
  );
  return {
    acted: true,
    reason: existing ? 'open incident for this finding triaged again' : 'incident opened and triaged',
    incident,
    reopened: existing !== undefined,
    triage: result,
  };
}

/** Runs one triage of a discovered host under the triage deadline, which the caller's signal (shutdown, the run's budget) can end sooner. */
async function withTriageDeadline<T>(options: ExposureResponseOptions, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = startDeadline(options.triageTimeoutMs ?? DEFAULT_TRIAGE_TIMEOUT_MS, 'the triage deadline', options.signal);
  try {
    return await run(deadline.signal);
  } finally {
    deadline.clear();
  }
}

/** What every triage of a discovered host shares, first or incremental. */
function discoveredHostTriage(options: ExposureResponseOptions, incidentId: string, actor: string, signal: AbortSignal) {
  return {
    fingerprintKey: options.fingerprintKey,
    ...(options.detector ? { detector: options.detector } : {}),
    ...(options.keys ? { keys: options.keys } : {}),
    revoke: options.revokeWardenKeys === true,
    incident: { store: options.incidents, id: incidentId },
    actor,
    // Triage reads the environment for a password (WARDEN_DB_PASSWORD, PGPASSWORD, …), which here holds
    // Warden's own store credentials; a discovered host gets only the anonymous access the scan proved.
    env: {},
    signal,
  };
}

export const DEFAULT_RETRIAGE_ROWS = 10_000;

export interface ExposureRetriage {
  /** False when there is nothing to re-triage; `reason` says why. */
  acted: boolean;
  reason: string;
  incident?: Incident;
  retriage?: RetriageResult;
}

/**
 * The loop kept closed: a store that stays open keeps receiving rows, and a finding that is neither new
 * nor changed raises no alert. While its incident is open, each run reads the rows written since the
 * last triage (at most `rows`, newest first), revokes the Warden keys among them (under
 * `revokeWardenKeys`) and appends what is new to the incident's timeline.
 */
export async function retriageExposure(finding: Finding, options: ExposureResponseOptions & { rows?: number }): Promise<ExposureRetriage> {
  if (finding.auth !== 'none') return { acted: false, reason: 'the store no longer answers without a password' };
  const incident = await options.incidents.findOpen(`scan:${finding.id}`);
  if (!incident) return { acted: false, reason: 'no open incident for this finding' };
  // A keyspace (Redis) carries no time or order to tell new keys from old.
  const read = await readPathFor(finding, options);
  if (!read || read.path.keyspace) return { acted: false, reason: `no incremental triage for ${finding.service}`, incident };
  const actor = options.actor ?? 'warden-serve';
  const result = await withTriageDeadline(options, (signal) =>
    retriage(read.dsn, {
      ...discoveredHostTriage(options, incident.id, actor, signal),
      tables: flaggedTables(finding),
      rows: options.rows ?? DEFAULT_RETRIAGE_ROWS,
    }),
  );
  return { acted: true, reason: 'rows written since the last triage read', incident, retriage: result };
}
