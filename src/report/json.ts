import type { ReportFinding, ReportTool } from './types.js';

/** A stable JSON document: `{ tool, findings: [...] }`, findings in the order given. */
export function formatJson(findings: readonly ReportFinding[], tool: ReportTool, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ tool: { name: tool.name, version: tool.version }, ...extra, findings }, null, 2) + '\n';
}
