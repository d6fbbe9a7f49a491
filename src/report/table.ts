import type { Severity } from '../severity.js';
import type { ReportFinding } from './types.js';

const SEVERITY_COLOR: Record<Severity, number> = { critical: 35, high: 31, medium: 33, low: 36, info: 90 };

/** `text` in its severity's colour (one palette for every table), or as it is when colour is off. */
export function paintSeverity(text: string, severity: Severity, color: boolean): string {
  return color ? `\u001b[${SEVERITY_COLOR[severity]}m${text}\u001b[0m` : text;
}

export interface TableOptions {
  color?: boolean;
}

/**
 * `where  severity  rule  fingerprint  [confidence]  title`, one finding a line, columns aligned; the
 * confidence column only when findings carry one; empty input gives ''.
 */
export function formatTable(findings: readonly ReportFinding[], options: TableOptions = {}): string {
  if (findings.length === 0) return '';
  const rated = findings.some((f) => f.confidence);
  const rows = findings.map((f) => [where(f), f.severity, f.ruleId, f.fingerprint, ...(rated ? [f.confidence ?? ''] : []), titleOf(f)]);
  const header = ['LOCATION', 'SEVERITY', 'RULE', 'FINGERPRINT', ...(rated ? ['CONFIDENCE'] : []), 'TITLE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[], severity?: Severity) =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
        return i === 1 && severity ? paintSeverity(padded, severity, options.color ?? false) : padded;
      })
      .join('  ');
  return [line(header), ...rows.map((r, i) => line(r, findings[i]!.severity))].join('\n') + '\n';
}

function titleOf(f: ReportFinding): string {
  const title = f.message ?? f.title;
  return f.confidence === 'low' && f.reason ? `${title} (${f.reason})` : title;
}

function where(f: ReportFinding): string {
  const { line, column } = f.location;
  const uri = f.commit ? `${f.commit.slice(0, 12)}:${f.location.uri}` : f.location.uri;
  if (line === undefined) return uri;
  return column === undefined ? `${uri}:${line}` : `${uri}:${line}:${column}`;
}
