/**
 * The daemon's incident policy, applied after each run: critical exposures become incidents, triaged
 * read-only, and stores that stay open are re-triaged for what was written since.
 */
import type { ServeConfig } from '../config/index.js';
import { isCriticalExposure, respondToExposure, retriageExposure, startDeadline, type ExposureResponseOptions, type IncidentStore } from '../incident/index.js';
import type { KeyStore } from '../keys/index.js';
import type { Finding } from '../scan/index.js';
import type { Alert, RunRecord } from './history.js';

/** Stores whose new rows an incremental re-triage can tell from old (Redis keys carry no time or order). */
const RETRIAGED_SERVICES = new Set(['clickhouse', 'postgresql', 'mysql']);

export interface IncidentResponder {
  incidents: IncidentStore;
  keys: KeyStore;
  /** Key for credential fingerprints in incidents. */
  fingerprintKey: Buffer | string;
  policy: ServeConfig['incidents'];
  log(line: string): void;
  /** Aborted when the daemon stops: triage in progress stops at once. */
  shutdown: AbortSignal;
}

/**
 * The incident policy: each critical exposure this run alerted on (new, reopened, escalated, flapping)
 * becomes an incident, triaged read-only, with Warden keys revoked only under `revokeWardenKeys`. Every
 * other open store that already has an open incident is re-triaged incrementally: the rows written since
 * its last triage, so keys written into a store that stays open are found and revoked in the next run.
 * Each triage has its deadline and all of them the run's budget, so one stalling store cannot keep the
 * next from being triaged; shutdown stops them at once. A finding reached after that still gets its
 * incident, with a triage that says it was stopped.
 */
export async function respondToCriticalExposures(responder: IncidentResponder, run: RunRecord, findings: Finding[], alerted: Alert[]): Promise<void> {
  const budget = startDeadline(responder.policy.budgetMs, 'the run’s incident response budget', responder.shutdown);
  try {
    await respondToEach(responder, run, findings, alerted, budget.signal);
  } finally {
    budget.clear();
  }
}

async function respondToEach(responder: IncidentResponder, run: RunRecord, findings: Finding[], alerted: Alert[], signal: AbortSignal): Promise<void> {
  const alertedIds = new Set(alerted.map((a) => a.finding.id));
  // One ClickHouse answers on both protocols; when its HTTP port was found, triage it once, over HTTP.
  const httpClickHouse = new Set(findings.filter((f) => f.probe === 'clickhouse-http').map((f) => f.host));
  const once = (f: Finding) => !(f.service === 'clickhouse' && f.probe !== 'clickhouse-http' && httpClickHouse.has(f.host));
  const critical = findings.filter((f) => alertedIds.has(f.id) && isCriticalExposure(f) && once(f));
  const triaged = new Set(critical.map((f) => f.id));
  const options: Omit<ExposureResponseOptions, 'signal'> = {
    incidents: responder.incidents,
    keys: responder.keys,
    fingerprintKey: responder.fingerprintKey,
    revokeWardenKeys: responder.policy.revokeWardenKeys,
    regimes: responder.policy.regimes,
    maxRowsPerTable: responder.policy.maxRowsPerTable,
    triageTimeoutMs: responder.policy.triageTimeoutMs,
    actor: 'warden-serve',
  };
  for (const finding of critical) {
    try {
      const response = await respondToExposure(finding, { ...options, signal });
      if (!response.acted) {
        responder.log(`run ${run.id}: no incident for ${finding.id}: ${response.reason}`);
        continue;
      }
      const triage = response.triage!;
      const warden = triage.credentials.warden;
      const revoked = warden.filter((w) => w.action === 'revoked').length;
      const wouldRevoke = warden.filter((w) => w.action === 'would-revoke').length;
      // The errors' text can come from the store itself: the incident holds it, the log only the count.
      const unread = `${triage.errors.length} error${triage.errors.length === 1 ? '' : 's'}, see the incident`;
      const outcome =
        triage.status === 'failed'
          ? `triage failed, nothing read (${unread})`
          : `${triage.credentials.occurrences} credential occurrences, ${revoked} Warden key${revoked === 1 ? '' : 's'} revoked${wouldRevoke ? `, ${wouldRevoke} to revoke (revokeWardenKeys is off)` : ''}${triage.status === 'partial' ? `; triage incomplete (${unread})` : ''}`;
      responder.log(`run ${run.id}: incident ${response.incident!.id} ${response.reopened ? 'triaged again' : 'opened'} for ${finding.id}: ${outcome}`);
    } catch (err) {
      responder.log(`run ${run.id}: incident response for ${finding.id} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }
  for (const finding of findings) {
    if (triaged.has(finding.id) || finding.auth !== 'none' || !RETRIAGED_SERVICES.has(finding.service) || !once(finding)) continue;
    try {
      const response = await retriageExposure(finding, { ...options, rows: responder.policy.retriageRows, signal });
      if (!response.acted) {
        if (response.incident) responder.log(`run ${run.id}: incident ${response.incident.id} not re-triaged: ${response.reason}`);
        continue;
      }
      const retriage = response.retriage!;
      const revoked = retriage.warden.filter((w) => w.action === 'revoked').length;
      const wouldRevoke = retriage.warden.filter((w) => w.action === 'would-revoke').length;
      const unread = retriage.errors.length;
      responder.log(
        retriage.status === 'failed'
          ? `run ${run.id}: incident ${response.incident!.id} re-triage for ${finding.id} failed, nothing read (${unread} error${unread === 1 ? '' : 's'}, see the incident)`
          : `run ${run.id}: incident ${response.incident!.id} re-triaged for ${finding.id}: ${retriage.rows} rows written since the last triage, ${retriage.newCredentials.length} new credential${retriage.newCredentials.length === 1 ? '' : 's'}, ${revoked} Warden key${revoked === 1 ? '' : 's'} revoked${wouldRevoke ? `, ${wouldRevoke} to revoke (revokeWardenKeys is off)` : ''}${unread ? `; ${unread} table${unread === 1 ? '' : 's'} not read (see the incident)` : ''}`,
      );
    } catch (err) {
      responder.log(`run ${run.id}: re-triage for ${finding.id} failed: ${(err as Error)?.message ?? String(err)}`);
    }
  }
}
