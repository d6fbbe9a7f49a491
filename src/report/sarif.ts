import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Confidence } from '../detect/index.js';
import type { Severity } from '../severity.js';
import type { ReportFinding, ReportInvocation, ReportRule, ReportTool } from './types.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

/** SARIF result levels and GitHub's `security-severity` (0–10), which drives its critical/high/medium/low. */
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

/** GitHub's `security-severity` for a severity, for results whose own severity is worth stating beside the rule's. */
export function securitySeverity(severity: Severity): string {
  return SECURITY_SEVERITY[severity];
}
/** SARIF `rank` (0–100, how much a result deserves attention) for a finding's confidence. */
const RANK: Record<Confidence, number> = { high: 90, medium: 60, low: 20 };

/** A finding's level: its severity's, at most a warning when only medium sure, a note when low. */
function levelOf(f: ReportFinding): 'error' | 'warning' | 'note' {
  const level = LEVEL[f.severity];
  if (f.confidence === 'low') return 'note';
  if (f.confidence === 'medium' && level === 'error') return 'warning';
  return level;
}

/** Key under `partialFingerprints`; versioned so a change of fingerprint scheme reads as new alerts, not moved ones. */
export const SARIF_FINGERPRINT_KEY = 'wardenFingerprint/v1';

export interface SarifOptions {
  tool: ReportTool;
  /** Rule metadata; rules not listed are described from the findings themselves. */
  rules?: readonly ReportRule[];
  /** The run's start and end, when the capability timed one. */
  invocation?: ReportInvocation;
}

/** A SARIF 2.1.0 log with one run, in the shape GitHub code scanning accepts. */
export function formatSarif(findings: readonly ReportFinding[], options: SarifOptions): string {
  const known = new Map((options.rules ?? []).map((r) => [r.id, r]));
  const used: ReportRule[] = [];
  const index = new Map<string, number>();
  for (const f of findings) {
    if (index.has(f.ruleId)) continue;
    index.set(f.ruleId, used.length);
    used.push(known.get(f.ruleId) ?? { id: f.ruleId, title: f.title, severity: f.severity });
  }
  const log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: options.tool.name,
            version: options.tool.version,
            semanticVersion: options.tool.version,
            ...(options.tool.informationUri ? { informationUri: options.tool.informationUri } : {}),
            rules: used.map(sarifRule),
          },
        },
        ...(options.invocation ? { invocations: [options.invocation] } : {}),
        columnKind: 'utf16CodeUnits',
        results: findings.map((f) => sarifResult(f, index.get(f.ruleId)!)),
      },
    ],
  };
  return JSON.stringify(log, null, 2) + '\n';
}

function sarifRule(rule: ReportRule) {
  const description = rule.description ?? rule.title;
  return {
    id: rule.id,
    name: pascalCase(rule.id),
    shortDescription: { text: rule.title },
    fullDescription: { text: description },
    help: { text: rule.help ?? (rule.helpUri ? `${description}\n\nRotate the credential: ${rule.helpUri}` : description) },
    ...(rule.helpUri ? { helpUri: rule.helpUri } : {}),
    defaultConfiguration: { level: LEVEL[rule.severity] },
    properties: { tags: ['security'], 'security-severity': SECURITY_SEVERITY[rule.severity], precision: 'high' },
  };
}

function sarifResult(f: ReportFinding, ruleIndex: number) {
  const { location: loc } = f;
  const region =
    loc.line === undefined
      ? undefined
      : {
          startLine: loc.line,
          ...(loc.column !== undefined ? { startColumn: loc.column } : {}),
          ...(loc.endLine !== undefined ? { endLine: loc.endLine } : {}),
          ...(loc.endColumn !== undefined ? { endColumn: loc.endColumn } : {}),
        };
  return {
    ruleId: f.ruleId,
    ruleIndex,
    level: levelOf(f),
    ...(f.confidence ? { rank: RANK[f.confidence] } : {}),
    message: {
      text:
        f.message ??
        `${f.title} (fingerprint ${f.fingerprint}${f.confidence ? `; ${f.confidence} confidence: ${f.reason ?? ''}` : ''}${f.commit ? `; added in commit ${f.commit.slice(0, 12)}` : ''})`,
    },
    locations: [{ physicalLocation: { artifactLocation: { uri: sarifUri(loc.uri) }, ...(region ? { region } : {}) } }],
    // The same secret in the same file keeps its fingerprint across commits: one alert, not one per commit.
    partialFingerprints: { [SARIF_FINGERPRINT_KEY]: f.fingerprint },
    ...(f.details || f.confidence
      ? { properties: { ...f.details, ...(f.confidence ? { confidence: f.confidence, ...(f.reason ? { reason: f.reason } : {}) } : {}) } }
      : {}),
  };
}

/** Relative paths become relative URI references (what GitHub maps onto the repository); others absolute URIs. */
export function sarifUri(where: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(where)) return where;
  if (isAbsolute(where)) return pathToFileURL(where).href;
  return where.split(/[\\/]/).map(encodeURIComponent).join('/');
}

function pascalCase(id: string): string {
  return id.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_, _sep: string, c: string) => c.toUpperCase());
}
