/**
 * The incident report, for an executive and for a regulator's form: summary, deadlines, exposure scope,
 * credentials by provider with their revocation state, timeline and the playbook steps still open.
 * HTML is one self-contained file (inline CSS, no scripts, nothing fetched) that prints to PDF; Markdown
 * carries the same sections. Neither holds a secret or a subject id: counts and fingerprints only.
 */
import { timeLeft } from './deadlines.js';
import { revokedKeyFingerprints, type IncidentStatusView } from './incident-store.js';
import type { Deadline, TriageResult, WardenKeyFinding } from './types.js';

export interface ReportInput extends IncidentStatusView {
  /** The incident's current triage results (`triageResults`: the latest of each source), oldest first. */
  triages: TriageResult[];
  /** When the report was generated (default now). */
  generatedAt?: number;
}

const iso = (ms: number | null) =>
  ms === null
    ? '—'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC');
const n = (x: number) => x.toLocaleString('en-US');

function remaining(d: Deadline, now: number): string {
  if (d.state === 'met') return `met ${iso(d.metAt)}`;
  return timeLeft(d, now) ?? 'clock not started';
}

interface Section {
  title: string;
  /** Rows of a table, or paragraphs when `header` is absent. */
  header?: string[];
  rows: string[][];
  paragraphs?: string[];
}

function sections(input: ReportInput): Section[] {
  const now = input.generatedAt ?? Date.now();
  const i = input.incident;
  const t = input.triages;
  const out: Section[] = [];
  // A key revoked by any triage (or re-triage) of this incident is revoked, whichever source listed it first.
  const revokedKeys = revokedKeyFingerprints(input.timeline, t);
  const actionOf = (w: WardenKeyFinding) => (w.action === 'would-revoke' && revokedKeys.has(w.fingerprint) ? 'revoked' : w.action);
  // Totals over sources: each source once (its latest triage), and a key or subject found in two sources once.
  const canaries = new Set(t.flatMap((x) => x.credentials.warden.filter((w) => w.action === 'canary-present').map((w) => w.fingerprint)));
  const wardenKeys = new Set(t.flatMap((x) => x.credentials.warden.filter((w) => w.action !== 'canary-present').map((w) => w.fingerprint)));
  const revoked = [...wardenKeys].filter((fp) => revokedKeys.has(fp)).length;
  const thirdParty = new Set(t.flatMap((x) => x.credentials.thirdParty.flatMap((p) => p.rules.flatMap((r) => r.fingerprints.map((f) => f.fingerprint))))).size;
  const subjects = (kind: string) => new Set(t.flatMap((x) => x.subjects.find((y) => y.kind === kind)?.counts.map((c) => c.id) ?? [])).size;
  const partial = t.filter((x) => x.status === 'partial').length;
  const failedAttempts = input.timeline.filter((e) => e.type === 'triage-failed').length;
  const categories = [...new Set(t.flatMap((x) => x.categories.map((c) => c.category)))];
  const atlas = [...new Map(t.flatMap((x) => x.atlas).map((a) => [a.id, a])).values()];
  out.push({
    title: 'Summary',
    header: ['', ''],
    rows: [
      ['Incident', `${i.id} — ${i.title}`],
      ['Kind', `${i.kind} (playbook v${i.playbookVersion})`],
      ['Severity / status', `${i.severity} / ${i.status}`],
      ['Detected', iso(i.detectedAt)],
      ['Aware', iso(i.awareAt)],
      ['Materiality determined', iso(i.materialityAt)],
      [
        'Sources triaged',
        `${n(t.length)}${partial ? ` (${n(partial)} in part: see their scope)` : ''}${failedAttempts ? `; ${n(failedAttempts)} failed attempt(s) on the timeline, not counted` : ''}`,
      ],
      ['Rows exposed (triaged)', n(t.reduce((s, x) => s + x.rows, 0))],
      ['Affected users / tenants / sessions', `${n(subjects('user'))} / ${n(subjects('tenant'))} / ${n(subjects('session'))}`],
      ['Data categories', categories.join(', ') || '—'],
      ['Warden keys exposed / revoked', `${n(wardenKeys.size)} / ${n(revoked)}`],
      ...(canaries.size ? [['Canaries present', `${n(canaries.size)}: this store's contents would be detected if used`]] : []),
      ['Third-party credentials exposed', n(thirdParty)],
      ['MITRE ATLAS', atlas.map((a) => `${a.id} ${a.name}`).join('; ') || '—'],
    ],
  });
  out.push({
    title: 'Deadlines',
    header: ['Duty', 'Starts from', 'Due', 'State', ''],
    rows: input.deadlines.map((d) => [d.title, d.from, iso(d.dueAt), d.state, remaining(d, now)]),
  });
  for (const x of t) {
    out.push({
      title: `Exposure scope: ${x.source}`,
      header: ['', ''],
      rows: [
        ['Triage', x.status === 'partial' ? 'partial: not every part could be read (below); what was read is counted' : 'complete'],
        ['Rows / bytes read', `${n(x.rows)} / ${n(x.bytes)}`],
        ['Parts', x.parts.map((p) => `${p.name} (${n(p.rows)} rows${p.truncated ? ', cut at the cap' : ''})`).join('; ') || '—'],
        ['Time range of the data', x.timeRange ? `${x.timeRange.from} → ${x.timeRange.to} (${x.timeRange.fields.join(', ')})` : 'no time field found'],
        ...x.subjects.map((s) => [`Distinct ${s.kind}s`, `${n(s.distinct)} in ${n(s.rows)} rows (${s.fields.join(', ')})`]),
        ['Categories', x.categories.map((c) => `${c.category} (${c.confidence})`).join(', ') || '—'],
        ...(x.errors.length ? [['Not read', x.errors.map((e) => `${e.part}: ${e.message}`).join('; ')]] : []),
      ],
    });
    out.push({
      title: `Warden keys: ${x.source}`,
      header: ['Key', 'Owner', 'Scopes', 'Fingerprint', 'Seen', 'State'],
      rows: x.credentials.warden.map((w) => [
        w.keyId ?? 'not in this key store',
        w.owner ?? '—',
        w.scopes?.join(' ') ?? '—',
        w.fingerprint,
        n(w.occurrences),
        actionOf(w),
      ]),
    });
    out.push({
      title: `Third-party credentials: ${x.source}`,
      header: ['Provider', 'Credential', 'Distinct', 'Seen', 'Rotate at', 'Fingerprints'],
      rows: x.credentials.thirdParty.flatMap((p) =>
        p.rules.map((r) => [
          p.provider,
          r.title,
          n(r.fingerprints.length),
          n(r.fingerprints.reduce((s, f) => s + f.occurrences, 0)),
          r.rotateUrl ?? '—',
          r.fingerprints.map((f) => f.fingerprint).join(' '),
        ]),
      ),
    });
  }
  out.push({
    title: 'Timeline',
    header: ['Happened', 'Recorded', 'By', 'What'],
    rows: input.timeline.map((e) => [iso(e.happenedAt), iso(e.recordedAt), e.actor, e.message]),
  });
  out.push({
    title: 'Remaining playbook steps',
    header: ['Step', 'Phase', 'Owner', 'Automated', 'What'],
    rows: input.remainingSteps.map((s) => [s.title, s.phase, s.owner, s.automated ?? '', s.description ?? '']),
  });
  return out;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
/**
 * Names in the report come from the exposed store (tables, databases, subject fields, error text): as
 * text they must stay text. Markdown's inline markup is backslash-escaped, HTML is entity-escaped (a
 * Markdown renderer passes raw HTML through), links cannot start, and a line break cannot end a row.
 */
const mdText = (s: string) =>
  s
    .replace(/[\\`*_[\]|~]/g, '\\$&')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/:\/\//g, '\\://')
    .replace(/\bwww\./gi, (w) => `${w.slice(0, 3)}\\.`)
    .replace(/[\r\n\u2028\u2029]+/g, ' ');

export function renderMarkdown(input: ReportInput): string {
  const lines = [`# Incident report: ${mdText(input.incident.title)}`, '', `Generated ${iso(input.generatedAt ?? Date.now())} by Warden.`, ''];
  for (const s of sections(input)) {
    lines.push(`## ${mdText(s.title)}`, '');
    if (s.rows.length === 0) {
      lines.push('None.', '');
      continue;
    }
    const header = s.header!.every((h) => h === '') ? s.header!.map((_, k) => (k === 0 ? 'Item' : 'Value')) : s.header!;
    lines.push(`| ${header.map(mdText).join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
    for (const r of s.rows) lines.push(`| ${r.map(mdText).join(' | ')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:2rem auto;max-width:72rem;padding:0 1rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.75rem 0 .5rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem}
.meta{color:#57606a;margin:0 0 1rem}.sev{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;color:#fff;background:#57606a;text-transform:uppercase;font-size:.8rem}
.sev-critical{background:#a40e26}.sev-high{background:#bc4c00}.sev-medium{background:#9a6700}.sev-low{background:#0969da}
table{border-collapse:collapse;width:100%;margin:.25rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-word}
th{background:#f6f8fa}td.fp{font-family:ui-monospace,monospace;font-size:.8rem}
.state-overdue{color:#a40e26;font-weight:600}.state-met{color:#1a7f37}.state-revoked,.state-already-revoked{color:#1a7f37}.state-would-revoke{color:#bc4c00;font-weight:600}
.none{color:#57606a;font-style:italic}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}tr{break-inside:avoid}a{color:inherit;text-decoration:none}}
`;

export function renderHtml(input: ReportInput): string {
  const i = input.incident;
  const body: string[] = [];
  for (const s of sections(input)) {
    body.push(`<section><h2>${esc(s.title)}</h2>`);
    if (s.rows.length === 0) {
      body.push('<p class="none">None.</p></section>');
      continue;
    }
    const keyValue = s.header!.every((h) => h === '');
    body.push('<table>');
    if (!keyValue) body.push(`<thead><tr>${s.header!.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`);
    body.push('<tbody>');
    for (const r of s.rows) {
      body.push(
        `<tr>${r
          .map((cell, k) => {
            if (keyValue && k === 0) return `<th scope="row">${esc(cell)}</th>`;
            const header = s.header![k] ?? '';
            const cls = header === 'State' ? ` class="state-${esc(cell)}"` : header === 'Fingerprint' || header === 'Fingerprints' ? ' class="fp"' : '';
            return `<td${cls}>${esc(cell)}</td>`;
          })
          .join('')}</tr>`,
      );
    }
    body.push('</tbody></table></section>');
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Incident report: ${esc(i.title)}</title><style>${CSS}</style></head>
<body><header><h1>Incident report: ${esc(i.title)}</h1>
<p class="meta"><span class="sev sev-${esc(i.severity)}">${esc(i.severity)}</span> ${esc(i.id)} · ${esc(i.kind)} · ${esc(i.status)} · generated ${esc(iso(input.generatedAt ?? Date.now()))} by Warden</p></header>
${body.join('\n')}
</body></html>
`;
}
