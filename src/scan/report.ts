/** Report renderings: the versioned JSON document, SARIF 2.1.0, and a table for people. */
import { SEVERITIES, type Severity } from '../detect/index.js';
import { hostPort } from '../host-port.js';
import type { ScanReport } from './scanner.js';
import type { Finding } from './types.js';

export const SCAN_FORMATS = ['table', 'json', 'sarif'] as const;
export type ScanFormat = (typeof SCAN_FORMATS)[number];

export function atLeast(severity: Severity, threshold: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(threshold);
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note' | 'none'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'none' };
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

/** SARIF 2.1.0: one rule per probe, one result per finding, the endpoint as the location. */
export function toSarif(report: ScanReport): object {
  const rules = [...new Map(report.findings.map((f) => [f.probe, f])).values()].map((f) => ({
    id: f.probe,
    name: f.service,
    shortDescription: { text: `${f.service} exposure check` },
    help: { text: f.remediation },
  }));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'warden-scan', version: report.tool.version, informationUri: 'https://github.com/warden', rules } },
        invocations: [{ executionSuccessful: true, startTimeUtc: report.startedAt, endTimeUtc: report.finishedAt }],
        results: report.findings.map((f) => ({
          ruleId: f.probe,
          level: SARIF_LEVEL[f.severity],
          message: { text: `${f.title} (${f.host}:${f.port}, auth: ${f.auth})` },
          locations: [{ physicalLocation: { artifactLocation: { uri: `tcp://${hostPort(f.host, f.port)}` } } }],
          partialFingerprints: { findingId: f.id },
          properties: { severity: f.severity, 'security-severity': SECURITY_SEVERITY[f.severity], auth: f.auth, evidence: f.evidence, remediation: f.remediation, ...(f.reproduce ? { reproduce: f.reproduce } : {}) },
        })),
      },
    ],
  };
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
export function renderTable(report: ScanReport, paint: (text: string, severity: Severity) => string = (t) => t): string {
  const head = ['SEVERITY', 'ENDPOINT', 'SERVICE', 'AUTH', 'FINDING', 'EVIDENCE'];
  const rows = report.findings.map((f) => [f.severity, hostPort(f.host, f.port), f.service, f.auth, f.title, summarise(f)]);
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const fit = (c: string, w: number) => (c.length > w ? `${c.slice(0, w - 1)}…` : c.padEnd(w));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : fit(c, widths[i]!))).join('  ');
  const out = [line(head)];
  report.findings.forEach((f, i) => {
    const cells = rows[i]!;
    // Pad before painting: colour codes would throw the widths off.
    out.push(line([cells[0]!.padEnd(widths[0]!), ...cells.slice(1)]).replace(/^\S+\s*/, (sev) => paint(sev.trimEnd(), f.severity) + sev.slice(sev.trimEnd().length)));
    for (const db of f.evidence.databases ?? []) {
      for (const t of db.tables.filter((t) => (t.credentials?.total ?? 0) > 0 || (t.conversationColumns?.length ?? 0) > 0).slice(0, 5)) {
        const rules = Object.entries(t.credentials?.byRule ?? {}).map(([r, n]) => `${r}×${n}`).join(', ');
        out.push(`    ${db.name}.${t.name}: ${t.rows ?? '?'} rows${rules ? `; credentials ${rules}` : ''}${t.conversationColumns?.length ? `; chat columns ${t.conversationColumns.join(', ')}` : ''}`);
      }
    }
  });
  const counts = SEVERITIES.slice().reverse().map((s) => `${report.findings.filter((f) => f.severity === s).length} ${s}`);
  out.push('', `${report.stats.endpoints} endpoints checked, ${report.stats.open} open, ${report.stats.identified} identified; findings: ${counts.join(', ')}`);
  return out.join('\n') + '\n';
}
