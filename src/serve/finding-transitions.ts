/**
 * The finding state machine, without the store: what one completed run does to each finding of its
 * inventory (opened, reopened, flapping, changed, escalated, stable, resolved), which events that
 * writes and which alerts it raises. `ServeHistory.completeRun` reads the inputs and writes the result.
 */
import { severityRank, type Severity } from '../severity.js';
import type { Finding } from '../scan/index.js';
import type { Alert, EventKind, FindingState } from './history.js';

/** What the store knew of a finding before the run. */
export interface KnownFinding {
  id: string;
  state: FindingState;
  severity: Severity;
  auth: string;
  evidenceHash: string;
  firstSeen: number;
  openedAt: number;
  resolvedAt: number | null;
  flappingSince: number | null;
  /** The kind of the finding's acknowledgement while it lasts; null without one or once it expired. */
  ack: 'acknowledge' | 'suppress' | null;
}

/** A finding the run saw, once per id, with the hash of its stored (redacted) evidence. */
export interface Sighting {
  finding: Finding;
  evidenceHash: string;
}

/** A finding open after the run, with the times to store for it. */
export interface OpenFinding extends Sighting {
  firstSeen: number;
  openedAt: number;
  resolvedAt: number | null;
  flappingSince: number | null;
}

export interface FindingEventRecord {
  findingId: string;
  kind: EventKind;
  severity: string | null;
  detail: Record<string, unknown> | null;
}

export interface RunTransitions {
  open: OpenFinding[];
  /** Ids of findings open before and not seen by the run. */
  resolved: string[];
  /** In the order they happened: each sighting's, then the resolutions. */
  events: FindingEventRecord[];
  alerts: Alert[];
  counts: { new: number; changed: number; resolved: number };
}

export interface TransitionRules {
  now: number;
  /** Open, resolved, open again within this window is flapping: one alert, then quiet until stable. */
  flapWindowMs: number;
  /** An incomplete run resolves nothing: absence from it proves nothing. */
  partial: boolean;
}

/** What a run that saw `sightings` does to an inventory whose findings were `known`. */
export function transitionRun(
  inventory: string,
  sightings: readonly Sighting[],
  known: ReadonlyMap<string, KnownFinding>,
  rules: TransitionRules,
): RunTransitions {
  const { now, flapWindowMs } = rules;
  const out: RunTransitions = { open: [], resolved: [], events: [], alerts: [], counts: { new: 0, changed: 0, resolved: 0 } };
  const event = (findingId: string, kind: EventKind, severity: string | null, detail?: Record<string, unknown>) =>
    out.events.push({ findingId, kind, severity, detail: detail ?? null });
  const seen = new Set<string>();
  for (const { finding: f, evidenceHash } of sightings) {
    seen.add(f.id);
    const old = known.get(f.id);
    const ack = old?.ack ?? null;
    let openedAt = old?.openedAt ?? now;
    let flappingSince = old?.flappingSince ?? null;
    const summary = {
      id: f.id,
      service: f.service,
      host: f.host,
      port: f.port,
      title: f.title,
      auth: f.auth,
      severity: f.severity,
      firstSeen: old?.firstSeen ?? now,
      lastSeen: now,
    };
    if (!old) {
      out.counts.new++;
      event(f.id, 'opened', f.severity);
      out.alerts.push({ kind: 'new', inventory, finding: summary });
    } else if (old.state === 'resolved') {
      out.counts.new++;
      // Open, closed, open again within the window: one "flapping" alert, then quiet.
      const flaps = now - old.openedAt <= flapWindowMs;
      event(f.id, 'reopened', f.severity);
      if (flaps && flappingSince === null) {
        flappingSince = now;
        event(f.id, 'flapping', f.severity);
        if (ack !== 'suppress') out.alerts.push({ kind: 'flapping', inventory, finding: summary });
      } else if (!flaps && ack === null) {
        out.alerts.push({ kind: 'reopened', inventory, finding: summary });
      }
      openedAt = now;
    } else {
      const rankDelta = severityRank(f.severity) - severityRank(old.severity);
      if (rankDelta !== 0 || old.evidenceHash !== evidenceHash || old.auth !== f.auth) {
        out.counts.changed++;
        const detail = {
          from: { severity: old.severity, auth: old.auth },
          to: { severity: f.severity, auth: f.auth },
          evidenceChanged: old.evidenceHash !== evidenceHash,
        };
        event(f.id, rankDelta > 0 ? 'escalated' : 'changed', f.severity, detail);
        if (rankDelta > 0 && ack !== 'suppress' && flappingSince === null)
          out.alerts.push({ kind: 'escalated', inventory, finding: summary, previousSeverity: old.severity });
      }
    }
    if (flappingSince !== null && now - Math.max(openedAt, old?.resolvedAt ?? 0) > flapWindowMs) {
      flappingSince = null;
      event(f.id, 'stable', f.severity);
    }
    out.open.push({ finding: f, evidenceHash, firstSeen: old?.firstSeen ?? now, openedAt, resolvedAt: old?.resolvedAt ?? null, flappingSince });
  }
  for (const old of known.values()) {
    if (rules.partial || seen.has(old.id) || old.state !== 'open') continue;
    out.counts.resolved++;
    out.resolved.push(old.id);
    event(old.id, 'resolved', old.severity);
  }
  return out;
}
