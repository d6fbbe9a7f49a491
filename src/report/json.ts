import type { ReportFinding, ReportTool } from './types.js';

/** Inside Warden a time is epoch milliseconds in a field named `at` or `…At`; what a report prints is ISO 8601. */
const TIME_FIELD = /^(?:at|[a-z][A-Za-z0-9]*At)$/;
const MAX_DATE_MS = 8.64e15;

/** The one JSON writer for every document Warden prints: indented, times as ISO 8601 (durations stay numbers: they end in `Ms`). */
export function toJson(data: unknown): string {
  const replacer = (key: string, value: unknown) =>
    typeof value === 'number' && TIME_FIELD.test(key) && Math.abs(value) <= MAX_DATE_MS ? new Date(value).toISOString() : value;
  return `${JSON.stringify(data, replacer, 2)}\n`;
}

/** A stable JSON document: `{ tool, findings: [...] }`, findings in the order given. */
export function formatJson(findings: readonly ReportFinding[], tool: ReportTool, extra: Record<string, unknown> = {}): string {
  return toJson({ tool: { name: tool.name, version: tool.version }, ...extra, findings });
}
