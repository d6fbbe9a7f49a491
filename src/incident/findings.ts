import type { ReportFinding, ReportRule } from '../report/index.js';
import type { TriageResult } from './types.js';

/**
 * A triage's credentials as findings in the one report shape (SARIF): one per distinct credential, the source as
 * location, its keyed fingerprint, and what triage knows of it as details (occurrences; for a Warden key its id,
 * owner and what was done). Rules come from the detector that triaged; one not listed is described at medium.
 */
export function triageFindings(result: TriageResult, rules: readonly ReportRule[]): ReportFinding[] {
  const known = new Map(rules.map((r) => [r.id, r]));
  const ruleOf = (id: string, title: string) => known.get(id) ?? { id, title, severity: 'medium' as const };
  const location = { uri: result.source };
  const warden = result.credentials.warden.map((w): ReportFinding => {
    const rule = ruleOf('warden-api-key', 'Warden API key');
    return {
      ruleId: rule.id,
      title: rule.title,
      severity: rule.severity,
      location,
      fingerprint: w.fingerprint,
      message: `${rule.title} ${w.keyId ?? '(not in this store)'}: ${w.action}, ${w.occurrences} occurrence(s)`,
      details: { occurrences: w.occurrences, keyId: w.keyId, owner: w.owner, action: w.action },
    };
  });
  const thirdParty = result.credentials.thirdParty.flatMap((p) =>
    p.rules.flatMap(({ ruleId, title, fingerprints }) =>
      fingerprints.map(({ fingerprint, occurrences }): ReportFinding => {
        const rule = ruleOf(ruleId, title);
        return {
          ruleId,
          title: rule.title,
          severity: rule.severity,
          location,
          fingerprint,
          message: `${rule.title}, ${occurrences} occurrence(s)`,
          details: { provider: p.provider, occurrences },
        };
      }),
    ),
  );
  return [...warden, ...thirdParty];
}
