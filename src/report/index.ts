/**
 * warden/report: the one output layer. Every capability that reports (scan, detect, classify, incident) prints
 * its JSON through `toJson`, its SARIF through `formatSarif`, and its tables through `alignColumns` or
 * `formatTable`, on the one severity scale.
 */
import { WARDEN_HOMEPAGE, WARDEN_VERSION } from '../version.js';
import { formatJson } from './json.js';
import { formatSarif, type SarifOptions } from './sarif.js';
import { formatTable } from './table.js';
import type { ReportFinding, ReportTool } from './types.js';

export { alignColumns } from './columns.js';
export { formatJson, toJson } from './json.js';
export { formatSarif, sarifUri, securitySeverity, SARIF_SCHEMA, SARIF_FINGERPRINT_KEY, type SarifOptions } from './sarif.js';
export { detectorRules } from './rules.js';
export { formatTable, paintSeverity, type TableOptions } from './table.js';
export type { ReportFinding, ReportInvocation, ReportLocation, ReportRule, ReportTool } from './types.js';
export { atLeast, SEVERITIES, severityRank, worstFirst, type Severity } from '../severity.js';

/** Warden as every report names it, version and home page from package.json. */
export const WARDEN_TOOL: ReportTool = { name: 'warden', version: WARDEN_VERSION, ...(WARDEN_HOMEPAGE ? { informationUri: WARDEN_HOMEPAGE } : {}) };

export type ReportFormat = 'table' | 'json' | 'sarif';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'sarif'];

export interface FormatReportOptions extends Partial<Pick<SarifOptions, 'rules' | 'invocation'>> {
  tool: ReportTool;
  color?: boolean;
  /** Extra top-level fields for the JSON format (counts, notes). */
  summary?: Record<string, unknown>;
}

export function formatReport(format: ReportFormat, findings: readonly ReportFinding[], options: FormatReportOptions): string {
  switch (format) {
    case 'table':
      return formatTable(findings, { color: options.color ?? false });
    case 'json':
      return formatJson(findings, options.tool, options.summary);
    case 'sarif':
      return formatSarif(findings, {
        tool: options.tool,
        ...(options.rules ? { rules: options.rules } : {}),
        ...(options.invocation ? { invocation: options.invocation } : {}),
      });
  }
}
