/**
 * The dashboard: server-rendered HTML, one local stylesheet, an inline SVG chart, no script and
 * nothing fetched from elsewhere. Every value is escaped; evidence is shown redacted.
 */
import { SEVERITIES } from '../severity.js';
import type { FindingEvent, ServeHistory, StoredFinding } from './history.js';

export interface PageContext {
  csrf: string;
  canAdmin: boolean;
  inventories: readonly string[];
  redact(text: string): string;
}

const PAGE_SIZE = 50;

const escape = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const time = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC');

function span(ms: number): string {
  const m = Math.floor(ms / 60_000);
  if (m < 1) return '< 1 min';
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} days`;
}

const findingHref = (f: { inventory: string; id: string }) => `/findings/${encodeURIComponent(f.inventory)}/${encodeURIComponent(f.id)}`;
const badge = (severity: string) => `<span class="sev sev-${escape(severity)}">${escape(severity)}</span>`;

function layout(title: string, body: string, ctx?: PageContext): string {
  const nav = ctx
    ? `<nav><a href="/">Overview</a><a href="/runs">Runs</a><form method="post" action="/logout"><input type="hidden" name="csrf" value="${escape(ctx.csrf)}"><button class="link">Log out</button></form></nav>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)} · Warden</title><link rel="stylesheet" href="/assets/warden.css"></head><body><header><a class="brand" href="/">Warden</a>${nav}</header><main>${body}</main></body></html>`;
}

const LOGIN_ERRORS: Record<string, string> = {
  scope: 'That key lacks the serve:read scope.',
  ended: 'Your session ended: its key was revoked, disabled or expired, or no longer has serve:read. Log in again.',
};

export function renderLogin(csrf: string, error?: string): string {
  const message = LOGIN_ERRORS[error ?? ''] ?? (error ? 'That key was not accepted.' : '');
  return layout(
    'Log in',
    `<section class="login"><h1>Log in</h1><p>Paste a Warden key with the <code>serve:read</code> scope (<code>serve:admin</code> to acknowledge findings).</p>${message ? `<p class="error" role="alert">${escape(message)}</p>` : ''}<form method="post" action="/login"><input type="hidden" name="csrf" value="${escape(csrf)}"><label for="key">Key</label><input id="key" name="key" type="password" autocomplete="off" required><button type="submit">Log in</button></form></section>`,
  );
}

const COLORS: Record<string, string> = { critical: '#b3261e', high: '#e8710a', medium: '#c9a000', low: '#1a73e8', info: '#80868b' };

/** Open findings after each run, stacked by severity, as an SVG with its own accessible summary. */
export function renderChart(series: Array<{ at: number; open: Record<string, number> }>): string {
  const width = 720;
  const height = 180;
  const pad = { left: 40, right: 8, top: 8, bottom: 22 };
  if (series.length < 2) return '<p class="muted">The chart appears after two completed runs.</p>';
  const t0 = series[0]!.at;
  const t1 = series[series.length - 1]!.at;
  const totals = series.map((p) => SEVERITIES.reduce((a, s) => a + (p.open[s] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const x = (t: number) => pad.left + ((t - t0) / Math.max(1, t1 - t0)) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  // Stack from most to least severe so critical sits on the axis.
  const order = [...SEVERITIES].reverse();
  const base = series.map(() => 0);
  const areas: string[] = [];
  for (const s of order) {
    const top = series.map((p, i) => base[i]! + (p.open[s] ?? 0));
    if (top.every((v, i) => v === base[i])) continue;
    const upper = series.map((p, i) => `${x(p.at).toFixed(1)},${y(top[i]!).toFixed(1)}`);
    const lower = series.map((p, i) => `${x(p.at).toFixed(1)},${y(base[i]!).toFixed(1)}`).reverse();
    areas.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${COLORS[s]}" fill-opacity="0.85"><title>${s}</title></polygon>`);
    top.forEach((v, i) => (base[i] = v));
  }
  const last = totals[totals.length - 1]!;
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="Open exposures over time; now ${last}, peak ${max}">
<line x1="${pad.left}" y1="${y(0)}" x2="${width - pad.right}" y2="${y(0)}" stroke="#c4c7c5"/><line x1="${pad.left}" y1="${y(max)}" x2="${width - pad.right}" y2="${y(max)}" stroke="#e3e3e3" stroke-dasharray="4 4"/>
<text x="${pad.left - 6}" y="${y(max) + 4}" text-anchor="end">${max}</text><text x="${pad.left - 6}" y="${y(0) + 4}" text-anchor="end">0</text>
${areas.join('')}
<text x="${pad.left}" y="${height - 4}">${escape(time(t0))}</text><text x="${width - pad.right}" y="${height - 4}" text-anchor="end">${escape(time(t1))}</text></svg>
<p class="legend">${SEVERITIES.slice()
    .reverse()
    .map((s) => `<span><i class="sev-${s}"></i>${s}</span>`)
    .join('')}</p>`;
}

function findingRows(findings: StoredFinding[], now: number): string {
  if (!findings.length) return '<p class="muted">No open exposures. Nothing answered without authentication in the last runs.</p>';
  const rows = findings.map((f) => {
    const flags = [
      f.flapping ? '<span class="tag">flapping</span>' : '',
      f.acknowledgement ? `<span class="tag">${f.acknowledgement.kind === 'suppress' ? 'suppressed' : 'acknowledged'}</span>` : '',
    ].join('');
    return `<tr><td>${badge(f.severity)}</td><td><a href="${findingHref(f)}">${escape(f.host)}:${f.port}</a> ${flags}</td><td>${escape(f.service)}</td><td>${escape(f.title)}</td><td>${escape(f.inventory)}</td><td>${span(now - f.openedAt)}</td></tr>`;
  });
  return `<table><thead><tr><th>Severity</th><th>Endpoint</th><th>Service</th><th>Finding</th><th>Inventory</th><th>Open for</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function runRows(runs: Awaited<ReturnType<ServeHistory['listRuns']>>): string {
  if (!runs.length) return '<p class="muted">No runs yet.</p>';
  const rows = runs.map(
    (r) =>
      `<tr><td>${escape(time(r.startedAt))}</td><td>${escape(r.inventory)}</td><td><span class="status status-${escape(r.status)}">${escape(r.status)}</span></td><td>${r.finishedAt ? span(r.finishedAt - r.startedAt) : '…'}</td><td>${r.findings ?? '—'}</td><td>${r.newCount ?? '—'}</td><td>${r.resolvedCount ?? '—'}</td><td class="muted">${escape(r.error ?? r.trigger)}</td></tr>`,
  );
  return `<table><thead><tr><th>Started</th><th>Inventory</th><th>Status</th><th>Took</th><th>Findings</th><th>New</th><th>Resolved</th><th>Note</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export async function renderOverview(history: ServeHistory, ctx: PageContext, page: number): Promise<string> {
  const now = Date.now();
  const [counts, series, findings, runs] = await Promise.all([
    history.openBySeverity(now),
    history.runSeries(now - 30 * 86_400_000),
    history.listFindings({ state: 'open', limit: PAGE_SIZE + 1, offset: page * PAGE_SIZE }, now),
    history.listRuns({ limit: 10 }),
  ]);
  const cards = [...SEVERITIES]
    .reverse()
    .map((s) => `<div class="card card-${s}"><span class="count">${counts[s] ?? 0}</span><span>${s}</span></div>`)
    .join('');
  const more = findings.length > PAGE_SIZE;
  const pager = `<p class="pager">${page > 0 ? `<a href="/?page=${page - 1}">← more severe</a>` : ''}${more ? `<a href="/?page=${page + 1}">next ${PAGE_SIZE} →</a>` : ''}</p>`;
  return layout(
    'Overview',
    `<h1>Open exposures</h1><section class="cards" aria-label="Open exposures by severity">${cards}</section>
<section><h2>Open exposures over time</h2>${renderChart(series)}</section>
<section><h2>Open now</h2>${findingRows(findings.slice(0, PAGE_SIZE), now)}${pager}</section>
<section><h2>Recent runs</h2>${runRows(runs)}</section>`,
    ctx,
  );
}

export async function renderRuns(history: ServeHistory, ctx: PageContext): Promise<string> {
  const runs = await history.listRuns({ limit: 100 });
  const start = ctx.canAdmin
    ? `<form method="post" action="/runs" class="inline"><input type="hidden" name="csrf" value="${escape(ctx.csrf)}"><label for="inventory">Run now</label><select id="inventory" name="inventory">${ctx.inventories.map((i) => `<option>${escape(i)}</option>`).join('')}</select><button>Start run</button></form>`
    : '';
  return layout('Runs', `<h1>Runs</h1>${start}${runRows(runs)}`, ctx);
}

const EVENT_TEXT: Record<string, string> = {
  opened: 'First seen open',
  reopened: 'Open again',
  changed: 'Evidence or access changed',
  escalated: 'Severity went up',
  resolved: 'No longer seen (resolved)',
  flapping: 'Flapping: opened, closed and opened again',
  stable: 'Stopped flapping',
  acknowledged: 'Acknowledged',
  suppressed: 'Suppressed',
  unacknowledged: 'Acknowledgement removed',
};

export function renderFinding(found: { finding: StoredFinding; events: FindingEvent[] }, ctx: PageContext): string {
  const f = found.finding;
  const now = Date.now();
  const timeline = found.events
    .map((e) => {
      const reason = e.detail && typeof e.detail.reason === 'string' ? `: “${escape(e.detail.reason)}”` : '';
      return `<li><time>${escape(time(e.at))}</time> ${escape(EVENT_TEXT[e.kind] ?? e.kind)}${e.severity ? ` ${badge(e.severity)}` : ''}${reason}</li>`;
    })
    .join('');
  const ack = f.acknowledgement;
  const ackBlock = ack
    ? `<p class="ack"><strong>${ack.kind === 'suppress' ? 'Suppressed' : 'Acknowledged'}</strong>: ${escape(ack.reason)} (until ${ack.expiresAt ? escape(time(ack.expiresAt)) : 'removed'}).</p>${
        ctx.canAdmin
          ? `<form method="post" action="${findingHref(f)}/unacknowledge"><input type="hidden" name="csrf" value="${escape(ctx.csrf)}"><button class="secondary">Remove</button></form>`
          : ''
      }`
    : ctx.canAdmin
      ? `<form method="post" action="${findingHref(f)}/acknowledge" class="ackform"><input type="hidden" name="csrf" value="${escape(ctx.csrf)}">
<label for="kind">Action</label><select id="kind" name="kind"><option value="acknowledge">Acknowledge (keep counting, alert only if it escalates)</option><option value="suppress">Suppress (hide, never alert)</option></select>
<label for="reason">Reason</label><input id="reason" name="reason" required maxlength="500">
<label for="expiresIn">Expires</label><select id="expiresIn" name="expiresIn"><option value="1d">in a day</option><option value="7d" selected>in a week</option><option value="30d">in 30 days</option><option value="never">never</option></select>
<button type="submit">Acknowledge</button></form>`
      : '';
  const evidence = ctx.redact(JSON.stringify(f.evidence, null, 2));
  return layout(
    f.id,
    `<p><a href="/">← Overview</a></p><h1>${badge(f.severity)} ${escape(f.title)}</h1>
<dl class="facts"><dt>Endpoint</dt><dd>${escape(f.host)}:${f.port}</dd><dt>Service</dt><dd>${escape(f.service)} (probe ${escape(f.probe)})</dd><dt>Access</dt><dd>${escape(f.auth)}</dd><dt>Inventory</dt><dd>${escape(f.inventory)}</dd>
<dt>State</dt><dd>${escape(f.state)}${f.flapping ? ' <span class="tag">flapping</span>' : ''}</dd><dt>First seen</dt><dd>${escape(time(f.firstSeen))}</dd><dt>Last seen</dt><dd>${escape(time(f.lastSeen))}</dd>
<dt>Open for</dt><dd>${f.state === 'open' ? span(now - f.openedAt) : `closed ${escape(time(f.resolvedAt))}`}</dd></dl>
<section><h2>Acknowledgement</h2>${ackBlock || '<p class="muted">None.</p>'}</section>
<section><h2>Timeline</h2><ol class="timeline">${timeline}</ol></section>
<section><h2>Evidence <span class="muted">(names and counts; redacted)</span></h2><pre>${escape(evidence)}</pre>${f.reproduce ? `<p>Reproduce: <code>${escape(ctx.redact(f.reproduce))}</code></p>` : ''}</section>
<section><h2>Fix</h2><p>${escape(f.remediation)}</p></section>`,
    ctx,
  );
}

export const DASHBOARD_CSS = `:root{color-scheme:light;--fg:#1f1f1f;--muted:#5f6368;--line:#e3e3e3;--bg:#f8f9fa;--accent:#0b57d0}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;align-items:center;justify-content:space-between;padding:.6rem 1.5rem;background:#fff;border-bottom:1px solid var(--line)}
.brand{font-weight:700;font-size:1.1rem;color:var(--fg);text-decoration:none}nav{display:flex;gap:1.2rem;align-items:center}nav form{margin:0}
main{max-width:1180px;margin:0 auto;padding:1.2rem 1.5rem 3rem}h1{font-size:1.5rem;margin:.4rem 0 1rem}h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
a{color:var(--accent)}section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.4rem 1rem 1rem;margin-bottom:1rem}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:.8rem;background:none;border:0;padding:0}
.card{background:#fff;border:1px solid var(--line);border-left:6px solid;border-radius:8px;padding:.6rem 1rem;display:flex;flex-direction:column}
.card .count{font-size:2rem;font-weight:700;line-height:1.1}.card-critical{border-left-color:#b3261e}.card-high{border-left-color:#e8710a}.card-medium{border-left-color:#c9a000}.card-low{border-left-color:#1a73e8}.card-info{border-left-color:#80868b}
table{width:100%;border-collapse:collapse;font-size:.92rem}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--muted);font-weight:600}
.sev{display:inline-block;min-width:4.6rem;text-align:center;border-radius:4px;padding:0 .4rem;color:#fff;font-size:.8rem;font-weight:600;text-transform:uppercase}
.sev-critical{background:#b3261e}.sev-high{background:#e8710a}.sev-medium{background:#c9a000}.sev-low{background:#1a73e8}.sev-info{background:#80868b}
.tag{display:inline-block;border:1px solid var(--line);border-radius:10px;padding:0 .5rem;font-size:.78rem;color:var(--muted)}
.status-failed,.status-interrupted{color:#b3261e;font-weight:600}.status-partial{color:#8a5a00;font-weight:600}.status-running{color:var(--accent)}.muted{color:var(--muted)}
.chart{width:100%;height:auto;max-height:220px}.chart text{font-size:11px;fill:var(--muted)}.legend span{margin-right:1rem;font-size:.85rem}.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;margin-right:.3rem;vertical-align:-1px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1.2rem;background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem}.facts dt{color:var(--muted)}.facts dd{margin:0}
.timeline{padding-left:1.2rem}.timeline time{color:var(--muted);font-variant-numeric:tabular-nums;margin-right:.5rem}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.8rem;overflow:auto;max-height:28rem;font-size:.85rem}
form{display:grid;gap:.4rem;max-width:34rem}form.inline{display:flex;gap:.6rem;align-items:center;max-width:none;margin-bottom:1rem}
input,select,button{font:inherit;padding:.4rem .6rem;border:1px solid #c4c7c5;border-radius:6px}button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer;width:max-content}
button.secondary{background:#fff;color:var(--accent)}button.link{background:none;border:0;color:var(--accent);padding:0}
.login{max-width:30rem;margin:3rem auto}.error{color:#b3261e}.pager a{margin-right:1rem}
@media (max-width:800px){.cards{grid-template-columns:repeat(2,1fr)}}
`;
