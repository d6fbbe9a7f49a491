import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { getDefaultDetector, loadFingerprintKey } from '../../detect/index.js';
import { UsageError } from '../../errors.js';
import {
  buildRegimes,
  getPlaybook,
  INCIDENT_KINDS,
  INCIDENT_STATUSES,
  IncidentStore,
  parseDeadlineRule,
  REGIMES,
  renderHtml,
  renderMarkdown,
  timeLeft,
  toCacao,
  triage,
  TriageFailedError,
  triageFindings,
  withoutSubjectIds,
  type DumpFormat,
  type IncidentKind,
  type IncidentStatus,
  type IncidentStatusView,
  type TriageResult,
} from '../../incident/index.js';
import { KeyStore } from '../../keys/index.js';
import { alignColumns, detectorRules, formatSarif, toJson, WARDEN_TOOL } from '../../report/index.js';
import { SEVERITIES, type Severity } from '../../severity.js';
import { parsePositiveInt, STORE_HELP } from '../parse.js';

interface StoreFlag {
  store?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function timeOf(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new UsageError(`${flag}: expected an ISO 8601 time such as 2025-01-29T09:30:00Z, got ${JSON.stringify(text)}`);
  return ms;
}

async function withIncidents<T>(opts: StoreFlag, fn: (incidents: IncidentStore) => Promise<T>): Promise<T> {
  const incidents = await IncidentStore.open(opts.store);
  try {
    return await fn(incidents);
  } finally {
    await incidents.close();
  }
}

const iso = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString());

function printJsonOr(json: boolean | undefined, data: unknown, text: () => string): void {
  process.stdout.write(json ? toJson(data) : `${text()}\n`);
}

function triageText(r: TriageResult): string {
  const lines = [
    `${r.source}: ${r.rows.toLocaleString('en-US')} rows, ${r.bytes.toLocaleString('en-US')} bytes in ${r.durationMs} ms${r.status === 'partial' ? ' (partial: not every part could be read)' : ''}`,
  ];
  if (r.timeRange) lines.push(`data from ${r.timeRange.from} to ${r.timeRange.to}`);
  for (const s of r.subjects) lines.push(`${s.kind}s: ${s.distinct} distinct in ${s.rows} rows (${s.fields.join(', ')})`);
  lines.push(`categories: ${r.categories.map((c) => c.category).join(', ') || 'none'}`);
  lines.push(`MITRE ATLAS: ${r.atlas.map((a) => `${a.id} ${a.name}`).join('; ') || 'none'}`);
  lines.push(`Warden keys: ${r.credentials.warden.length}`);
  for (const w of r.credentials.warden)
    lines.push(
      `  ${w.action.padEnd(15)} ${w.keyId ?? '(not in this store)'} ${w.owner ?? ''} ${w.scopes?.join(' ') ?? ''} fp ${w.fingerprint} ×${w.occurrences}`,
    );
  lines.push(`third-party credentials: ${r.credentials.thirdParty.reduce((s, p) => s + p.distinct, 0)}`);
  for (const p of r.credentials.thirdParty) {
    for (const rule of p.rules) lines.push(`  ${p.provider}: ${rule.fingerprints.length} × ${rule.title}; rotate at ${rule.rotateUrl ?? '(no page known)'}`);
  }
  for (const e of r.errors) lines.push(`not read: ${e.part}: ${e.message}`);
  return lines.join('\n');
}

function statusText(v: IncidentStatusView, now: number): string {
  const i = v.incident;
  const lines = [
    `${i.id}  ${i.kind}  ${i.severity}  ${i.status}  ${i.title}`,
    `detected ${iso(i.detectedAt)}  aware ${iso(i.awareAt)}  materiality ${iso(i.materialityAt)}`,
    'deadlines:',
  ];
  for (const d of v.deadlines)
    lines.push(`  ${d.state.padEnd(11)} ${iso(d.dueAt)}${d.state === 'met' ? '' : ` (${timeLeft(d, now) ?? 'not started'})`}  ${d.title}`);
  if (v.doneSteps.length) lines.push(`done steps (${v.doneSteps.length} of ${v.playbook.steps.length}):`);
  for (const d of v.doneSteps) lines.push(`  ${d.id.padEnd(24)} ${iso(d.at)}${d.byWarden ? '  [done by warden]' : ''}`);
  lines.push(`remaining steps (${v.remainingSteps.length} of ${v.playbook.steps.length}):`);
  for (const s of v.remainingSteps) lines.push(`  ${s.id.padEnd(24)} ${s.owner.padEnd(18)} ${s.automated ? `[warden: ${s.automated}] ` : ''}${s.title}`);
  return lines.join('\n');
}

export function registerIncident(program: Command): void {
  const incident = program.command('incident').description('AI incident response: open, triage a dump or store, timeline, deadlines, report');

  incident
    .command('open')
    .description('Open an incident of a catalogued kind, with the times that start each legal clock')
    .addOption(new Option('--kind <kind>', 'incident kind').choices([...INCIDENT_KINDS]).makeOptionMandatory())
    .option('--title <text>', 'title (default: the playbook title)')
    .addOption(new Option('--severity <level>', 'severity (default: the playbook default)').choices([...SEVERITIES]))
    .option('--detected <time>', 'when it was detected, ISO 8601 (default now)')
    .option('--aware <time>', 'when the organisation became aware; GDPR and NIS2 clocks start here (default: detected)')
    .option('--materiality <time>', 'when materiality was determined; the SEC 8-K clock starts here')
    .option('--regime <names>', `regimes in force, comma separated: ${Object.keys(REGIMES).join(', ')}`, 'gdpr')
    .option('--deadline <id:title:duration[:from]>', 'another duty, e.g. ai-act:EU AI Act Art. 73:15d:aware (repeatable)', collect, [])
    .option('--holiday <YYYY-MM-DD>', 'a day business-day clocks skip (repeatable)', collect, [])
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(
      async (
        opts: StoreFlag & {
          kind: IncidentKind;
          title?: string;
          severity?: Severity;
          detected?: string;
          aware?: string;
          materiality?: string;
          regime: string;
          deadline: string[];
          holiday: string[];
          json?: boolean;
        },
      ) => {
        const regimes = buildRegimes(
          opts.regime
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          opts.deadline.map(parseDeadlineRule),
          opts.holiday,
        );
        const detectedAt = timeOf(opts.detected, '--detected');
        const awareAt = timeOf(opts.aware, '--aware');
        const materialityAt = timeOf(opts.materiality, '--materiality');
        await withIncidents(opts, async (incidents) => {
          const opened = await incidents.open({
            kind: opts.kind,
            regimes,
            ...(opts.title ? { title: opts.title } : {}),
            ...(opts.severity ? { severity: opts.severity } : {}),
            ...(detectedAt !== undefined ? { detectedAt } : {}),
            ...(awareAt !== undefined ? { awareAt } : {}),
            ...(materialityAt !== undefined ? { materialityAt } : {}),
          });
          printJsonOr(opts.json, opened, () => `opened ${opened.id} (${opened.kind}, ${opened.severity})`);
        });
      },
    );

  incident
    .command('list')
    .description('List incidents, newest first')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (opts: StoreFlag & { json?: boolean }) => {
      await withIncidents(opts, async (incidents) => {
        const all = await incidents.list();
        printJsonOr(opts.json, all, () =>
          all.length
            ? alignColumns([['ID', 'STATUS', 'SEVERITY', 'KIND', 'TITLE'], ...all.map((i) => [i.id, i.status, i.severity, i.kind, i.title])])
            : '(none)',
        );
      });
    });

  incident
    .command('triage')
    .description('Find credentials, affected subjects, time range and data categories in a dump (NDJSON, CSV, JSON, text, gzip, folder) or a live store (DSN)')
    .argument('<incident>', 'incident id')
    .argument('<source>', 'file, folder, or clickhouse:// postgres:// mysql:// sqlite:// redis:// (passwords from WARDEN_DB_PASSWORD)')
    .option('--revoke', 'revoke every Warden key found (without it: list what would be revoked)')
    .option('--user-field <name>', 'field holding user ids (repeatable; default: detected by name)', collect, [])
    .option('--tenant-field <name>', 'field holding tenant ids (repeatable)', collect, [])
    .option('--session-field <name>', 'field holding session ids (repeatable)', collect, [])
    .option('--table <name>', 'only this table of a live store (repeatable)', collect, [])
    .option('--max-rows <n>', 'rows read per table of a live store at most', '1000000')
    .option(
      '--threads <n>',
      'threads that look for credentials in batches of rows, the main one included: N-1 workers take batches while the main thread reads and counts subjects, times and fields, and takes a batch itself when no worker has room; the same result whatever N (default: one per core; workers start once 32 MiB has been read, where they begin to repay their start; 1: no workers, everything on the main thread)',
    )
    .addOption(new Option('--format <format>', 'dump format when the name does not say').choices(['ndjson', 'csv', 'json', 'text']))
    .option('--json', 'JSON output')
    .option('--sarif', 'SARIF output: each credential found, by keyed fingerprint')
    .option('--store <location>', STORE_HELP)
    .action(
      async (
        id: string,
        source: string,
        opts: StoreFlag & {
          revoke?: boolean;
          userField: string[];
          tenantField: string[];
          sessionField: string[];
          table: string[];
          maxRows: string;
          threads?: string;
          format?: DumpFormat;
          json?: boolean;
          sarif?: boolean;
        },
      ) => {
        const maxRows = parsePositiveInt(opts.maxRows, '--max-rows');
        const threads = opts.threads === undefined ? undefined : parsePositiveInt(opts.threads, '--threads', 256);
        const incidents = await IncidentStore.open(opts.store);
        const keys = await KeyStore.open({ store: incidents.store, notifications: false });
        try {
          const subjectFields = {
            ...(opts.userField.length ? { user: opts.userField } : {}),
            ...(opts.tenantField.length ? { tenant: opts.tenantField } : {}),
            ...(opts.sessionField.length ? { session: opts.sessionField } : {}),
          };
          const result = await triage(source, {
            fingerprintKey: loadFingerprintKey(),
            keys,
            revoke: opts.revoke === true,
            incident: { store: incidents, id },
            subjectFields,
            maxRowsPerTable: maxRows,
            threads,
            ...(opts.table.length ? { tables: opts.table } : {}),
            ...(opts.format ? { format: opts.format } : {}),
            actor: 'cli',
          });
          if (opts.sarif) {
            const rules = detectorRules(getDefaultDetector());
            process.stdout.write(formatSarif(triageFindings(result, rules), { tool: WARDEN_TOOL, rules }));
          }
          // A failed triage has nothing to show but its reason, which the error says.
          else if (opts.json || result.status !== 'failed') printJsonOr(opts.json, withoutSubjectIds(result), () => triageText(result));
          if (result.status !== 'complete') throw new TriageFailedError(result);
          if (result.credentials.occurrences > 0) process.exitCode = 1;
        } finally {
          await keys.close();
          await incidents.close();
        }
      },
    );

  incident
    .command('note')
    .description('Record something on the timeline (with when it happened), a playbook step done, a deadline met, or a status change')
    .argument('<incident>', 'incident id')
    .argument('<message>', 'what happened')
    .option('--at <time>', 'when it happened, ISO 8601 (default now)')
    .option('--step <id>', 'marks this playbook step done')
    .option('--met <deadline>', 'marks this deadline met (e.g. gdpr-art33) at --at')
    .addOption(new Option('--status <status>', 'changes the incident status').choices([...INCIDENT_STATUSES]))
    .option('--materiality <time>', 'records the materiality determination (starts the SEC clock)')
    .option('--store <location>', STORE_HELP)
    .action(
      async (id: string, message: string, opts: StoreFlag & { at?: string; step?: string; met?: string; status?: IncidentStatus; materiality?: string }) => {
        const at = timeOf(opts.at, '--at');
        const materialityAt = timeOf(opts.materiality, '--materiality');
        await withIncidents(opts, async (incidents) => {
          const entry = await incidents.recordProgress(id, {
            message,
            ...(at !== undefined ? { happenedAt: at } : {}),
            ...(opts.step ? { step: opts.step } : {}),
            ...(opts.met ? { deadlineMet: opts.met } : {}),
            ...(materialityAt !== undefined ? { materialityAt } : {}),
            ...(opts.status ? { status: opts.status } : {}),
          });
          process.stderr.write(`recorded #${entry.seq} (${entry.type}) happened ${iso(entry.happenedAt)}\n`);
        });
      },
    );

  incident
    .command('status')
    .description('What is due and when, and the playbook steps still open')
    .argument('<incident>', 'incident id')
    .option('--json', 'JSON output')
    .option('--store <location>', STORE_HELP)
    .action(async (id: string, opts: StoreFlag & { json?: boolean }) => {
      await withIncidents(opts, async (incidents) => {
        const now = Date.now();
        const view = await incidents.status(id, now);
        printJsonOr(opts.json, { incident: view.incident, deadlines: view.deadlines, remainingSteps: view.remainingSteps, doneSteps: view.doneSteps }, () =>
          statusText(view, now),
        );
        if (view.deadlines.some((d) => d.state === 'overdue')) process.exitCode = 1;
      });
    });

  incident
    .command('report')
    .description('Write the incident report: self-contained HTML (printable) or Markdown')
    .argument('<incident>', 'incident id')
    .addOption(new Option('--format <format>', 'report format').choices(['html', 'markdown']).default('html'))
    .option('--out <file>', 'write here instead of stdout')
    .option('--store <location>', STORE_HELP)
    .action(async (id: string, opts: StoreFlag & { format: 'html' | 'markdown'; out?: string }) => {
      await withIncidents(opts, async (incidents) => {
        const input = { ...(await incidents.status(id)), triages: await incidents.triageResults(id) };
        const text = opts.format === 'html' ? renderHtml(input) : renderMarkdown(input);
        if (opts.out) writeFileSync(opts.out, text);
        else process.stdout.write(text);
      });
    });

  incident
    .command('playbook')
    .description('Show the playbook of a kind, or export it as CACAO v2.0 JSON')
    .argument('<kind>', `one of ${INCIDENT_KINDS.join(', ')}`)
    .option('--cacao', 'CACAO v2.0 JSON')
    .action((kind: string, opts: { cacao?: boolean }) => {
      if (!INCIDENT_KINDS.includes(kind as IncidentKind)) throw new UsageError(`unknown kind ${JSON.stringify(kind)} (known: ${INCIDENT_KINDS.join(', ')})`);
      const playbook = getPlaybook(kind as IncidentKind);
      process.stdout.write(toJson(opts.cacao ? toCacao(playbook) : playbook));
    });
}
