import { alignColumns, type ReportFinding, type ReportRule } from '../report/index.js';
import type { Category, ColumnClassification, StoreClassification } from './types.js';

const summary = (c: ColumnClassification) => c.categories.map((d) => `${d.category} ${d.confidence.toFixed(2)} (${d.basis})`).join(', ');

/** Every column that holds at least one category at or above `minConfidence` (default: all reported). */
export function classifiedColumns(report: StoreClassification) {
  return report.tables.flatMap((t) => t.columns.filter((c) => c.categories.length > 0).map((c) => ({ table: `${t.schema}.${t.name}`, column: c })));
}

/** Columns holding any of `categories` (the `--fail-on` check). */
export function columnsWith(report: StoreClassification, categories: readonly Category[]) {
  return classifiedColumns(report).filter(({ column }) => column.categories.some((d) => categories.includes(d.category)));
}

/**
 * Each credential a sampled column held, as a finding in the one report shape (SARIF): its rule, the store (no
 * password) as location, table, column and how many sampled values held it as details. Rules not in `rules`
 * (user rule files) keep their id as title, at medium severity.
 */
export function credentialFindings(reports: readonly StoreClassification[], rules: readonly ReportRule[]): ReportFinding[] {
  const known = new Map(rules.map((r) => [r.id, r]));
  return reports.flatMap((r) =>
    r.tables
      .flatMap((t) => t.columns.map((column) => ({ table: `${t.schema}.${t.name}`, column })))
      .flatMap(({ table, column }) =>
        column.credentials.map((s) => {
          const rule = known.get(s.ruleId) ?? { id: s.ruleId, title: s.ruleId, severity: 'medium' as const };
          return {
            ruleId: s.ruleId,
            title: rule.title,
            severity: rule.severity,
            location: { uri: r.store },
            fingerprint: s.fingerprint,
            confidence: s.confidence,
            reason: s.reason,
            message: `${rule.title} in ${table}.${column.column} (${s.count} sampled value${s.count === 1 ? '' : 's'})`,
            details: { table, column: column.column, values: s.count },
          };
        }),
      ),
  );
}

/** One table per store for a terminal: column, type, values sampled, categories with confidence and basis. */
export function formatClassificationTable(reports: readonly StoreClassification[]): string {
  const out: string[] = [];
  for (const r of reports) {
    out.push(
      `${r.store}  (${r.engine} ${r.serverVersion}; ${r.tables.length} tables; ${r.sampleSize} values per column; ${(r.durationMs / 1000).toFixed(1)}s)`,
    );
    const rows = [
      ['column', 'type', 'sampled', 'categories'],
      ...classifiedColumns(r).map(({ table, column }) => [`${table}.${column.column}`, column.type, String(column.sampled), summary(column)]),
    ];
    out.push(rows.length > 1 ? alignColumns(rows) : '  no classified columns');
    for (const e of r.errors) out.push(`  ! ${e.table}${e.column ? `.${e.column}` : ''}: ${e.message}`);
    out.push('');
  }
  return out.join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A Markdown report: per store, per column, the decisions and every reason. Counts and fingerprints only. */
export function formatClassificationMarkdown(reports: readonly StoreClassification[]): string {
  const out = ['# Warden data classification', ''];
  for (const r of reports) {
    out.push(
      `## ${md(r.store)}`,
      '',
      `${r.engine} ${md(r.serverVersion)}, ${r.tables.length} tables, up to ${r.sampleSize} non-null values sampled per column.`,
      '',
    );
    const cols = classifiedColumns(r);
    if (cols.length === 0) out.push('No column was classified.', '');
    else {
      out.push('| column | type | sampled | category | confidence | basis | reasons |', '|---|---|---|---|---|---|---|');
      for (const { table, column } of cols) {
        for (const d of column.categories) {
          out.push(
            `| ${md(`${table}.${column.column}`)} | ${md(column.type)} | ${column.sampled} | ${d.category} | ${d.confidence.toFixed(2)} | ${d.basis} | ${md(d.reasons.map((x) => `${x.source}: ${x.detail}`).join('; '))} |`,
          );
        }
      }
      out.push('');
    }
    const creds = cols.filter(({ column }) => column.credentials.length > 0);
    if (creds.length) {
      out.push('### Credentials (fingerprints only)', '', '| column | rule | confidence | fingerprint | values |', '|---|---|---|---|---|');
      for (const { table, column } of creds) {
        for (const s of column.credentials)
          out.push(
            `| ${md(`${table}.${column.column}`)} | ${s.ruleId} | ${s.confidence}${s.confidence === 'low' ? ` (${md(s.reason)})` : ''} | \`${s.fingerprint}\` | ${s.count} |`,
          );
      }
      out.push('');
    }
    if (r.errors.length) {
      out.push('### Not read', '');
      for (const e of r.errors) out.push(`- ${md(`${e.table}${e.column ? `.${e.column}` : ''}`)}: ${md(e.message)}`);
      out.push('');
    }
  }
  return out.join('\n');
}
