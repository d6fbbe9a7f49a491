/**
 * The one severity scale every capability reports on, lowest first. The order is written here only:
 * whatever sorts, filters, counts or thresholds by severity reads it from this module.
 */
export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** Position on the scale (info 0 … critical 4); -1 for a string that is no severity. */
export function severityRank(severity: string): number {
  return SEVERITIES.indexOf(severity as Severity);
}

/** True when `severity` reaches `threshold` (`--fail-on`, alert sinks' minimum). */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return severityRank(severity) >= severityRank(threshold);
}

/** Sort comparator: the worst first. */
export function worstFirst(a: Severity, b: Severity): number {
  return severityRank(b) - severityRank(a);
}
