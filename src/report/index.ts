/** warden/report: formatters over findings (table, JSON, SARIF 2.1.0), shared by every capability that reports. */
import { formatJson } from './json.js';
import { formatSarif } from './sarif.js';
import { formatTable } from './table.js';
import type { ReportFinding, ReportRule, ReportTool } from './types.js';

export { alignColumns } from './columns.js';
export { formatJson } from './json.js';
export { formatSarif, sarifUri, SARIF_SCHEMA, SARIF_FINGERPRINT_KEY, type SarifOptions } from './sarif.js';
export { formatTable, type TableOptions } from './table.js';
export type { ReportCommit, ReportFinding, ReportLocation, ReportRule, ReportTool } from './types.js';

export type ReportFormat = 'table' | 'json' | 'sarif';
export const REPORT_FORMATS: readonly ReportFormat[] = ['table', 'json', 'sarif'];

export interface FormatReportOptions {
  tool: ReportTool;
  rules?: readonly ReportRule[];
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
      return formatSarif(findings, { tool: options.tool, ...(options.rules ? { rules: options.rules } : {}) });
  }
}
