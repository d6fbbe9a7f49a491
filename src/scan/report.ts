/** Report renderings on warden/report: the versioned JSON document, SARIF 2.1.0, and a table for people. */
import {
  formatSarif,
  paintSeverity,
  REPORT_FORMATS,
  securitySeverity,
  SEVERITIES,
  toJson,
  WARDEN_TOOL,
  type ReportFinding,
  type ReportFormat,
  type ReportRule,
} from '../report/index.js';
import { sensitiveTables } from './evidence.js';
import { hostPort } from '../host-port.js';
import type { ScanReport } from './scanner.js';
import type { Finding } from './types.js';

export const SCAN_FORMATS = REPORT_FORMATS;
export type ScanFormat = ReportFormat;

const endpoint = (f: Finding) => hostPort(f.host, f.port);

/** A scan finding in the shared shape: the probe is the rule, the endpoint the location, the rest its details. */
export function toReportFinding(f: Finding): ReportFinding {
  return {
    ruleId: f.probe,
    title: f.title,
    severity: f.severity,
    location: { uri: `tcp://${endpoint(f)}` },
    fingerprint: f.id,
    message: `${f.title} (${f.host}:${f.port}, auth: ${f.auth})`,
    details: {
      severity: f.severity,
      'security-severity': securitySeverity(f.severity),
      auth: f.auth,
      evidence: f.evidence,
      remediation: f.remediation,
      ...(f.reproduce ? { reproduce: f.reproduce } : {}),
    },
  };
}

/** One rule per probe, its remediation as help; the findings come worst first, so a rule's severity is its worst finding's. */
function probeRules(findings: readonly Finding[]): ReportRule[] {
  const first = new Map<string, Finding>();
  for (const f of findings) if (!first.has(f.probe)) first.set(f.probe, f);
  return [...first.values()].map((f) => ({ id: f.probe, title: `${f.service} exposure check`, severity: f.severity, help: f.remediation }));
}

/** SARIF 2.1.0 through the one writer: one rule per probe, one result per finding, the run's times as its invocation. */
export function formatScanSarif(report: ScanReport): string {
  return formatSarif(report.findings.map(toReportFinding), {
    tool: WARDEN_TOOL,
    rules: probeRules(report.findings),
    invocation: { executionSuccessful: true, startTimeUtc: report.startedAt, endTimeUtc: report.finishedAt },
  });
}

/** The report in the format asked for: the versioned JSON document (schema/scan-report.schema.json), SARIF, or the table. */
export function formatScanReport(report: ScanReport, format: ScanFormat, color = false): string {
  if (format === 'json') return toJson(report);
  if (format === 'sarif') return formatScanSarif(report);
  return renderTable(report, color);
}

function summarise(f: Finding): string {
  const dbs = f.evidence.databases ?? [];
  const tables = dbs.reduce((n, d) => n + d.tables.length, 0);
  const rows = dbs.reduce((n, d) => n + d.tables.reduce((m, t) => m + (t.rows ?? 0), 0), 0);
  const creds = dbs.reduce((n, d) => n + d.tables.reduce((m, t) => m + (t.credentials?.total ?? 0), 0), 0);
  const parts = [
    f.evidence.version ? `v${f.evidence.version}` : '',
    dbs.length ? `${dbs.length} db, ${tables} tables, ${rows} rows` : '',
    creds ? `${creds} credentials in sample` : '',
    f.evidence.credentialsAccepted ? `accepted ${f.evidence.credentialsAccepted}` : '',
  ];
  // With nothing measured, the first note says why (e.g. what an unidentified open port did).
  return parts.filter(Boolean).join('; ') || (f.evidence.notes[0] ?? '');
}

/** A plain table, one finding per line, with the worst tables called out beneath. */
export function renderTable(report: ScanReport, color = false): string {
  const head = ['SEVERITY', 'ENDPOINT', 'SERVICE', 'AUTH', 'FINDING', 'EVIDENCE'];
  const rows = report.findings.map((f) => [f.severity, endpoint(f), f.service, f.auth, f.title, summarise(f)]);
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fit = (c: string, w: number) => (c.length > w ? `${c.slice(0, w - 1)}…` : c.padEnd(w));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : fit(c, widths[i]!))).join('  ');
  const out = [line(head)];
  report.findings.forEach((f, i) => {
    const cells = rows[i]!;
    // Pad before painting: colour codes would throw the widths off.
    out.push(
      line([cells[0]!.padEnd(widths[0]!), ...cells.slice(1)]).replace(
        /^\S+\s*/,
        (sev) => paintSeverity(sev.trimEnd(), f.severity, color) + sev.slice(sev.trimEnd().length),
      ),
    );
    for (const db of f.evidence.databases ?? []) {
      for (const { table: t } of sensitiveTables([db], 'by-name').slice(0, 5)) {
        const rules = Object.entries(t.credentials?.byRule ?? {})
          .map(([r, n]) => `${r}×${n}`)
          .join(', ');
        out.push(
          `    ${db.name}.${t.name}: ${t.rows ?? '?'} rows${rules ? `; credentials ${rules}` : ''}${t.conversationColumns?.length ? `; chat columns ${t.conversationColumns.join(', ')}` : ''}`,
        );
      }
    }
  });
  const counts = SEVERITIES.slice()
    .reverse()
    .map((s) => `${report.findings.filter((f) => f.severity === s).length} ${s}`);
  out.push('', `${report.stats.endpoints} endpoints checked, ${report.stats.open} open, ${report.stats.identified} identified; findings: ${counts.join(', ')}`);
  return out.join('\n') + '\n';
}
