/**
 * Regulatory clocks. Each regime is a list of deadline rules with the event that starts them: GDPR and
 * NIS2 count from awareness, SEC 8-K from the materiality determination. Business days skip Saturdays,
 * Sundays and configured holidays; calendar arithmetic is in UTC (see docs/incident.md).
 */
import { formatDuration } from '../duration.js';
import { UsageError } from '../errors.js';
import type { ClockStart, Deadline, DeadlineRule, Incident, IncidentRegimes } from './types.js';

/** The shipped regimes, by the name `--regime` takes. */
export const REGIMES: Record<string, DeadlineRule[]> = {
  gdpr: [{ id: 'gdpr-art33', title: 'GDPR Art. 33: notify the supervisory authority', from: 'aware', within: { hours: 72 } }],
  nis2: [
    { id: 'nis2-early-warning', title: 'NIS2 Art. 23: early warning to the CSIRT', from: 'aware', within: { hours: 24 } },
    { id: 'nis2-notification', title: 'NIS2 Art. 23: incident notification', from: 'aware', within: { hours: 72 } },
    // One month after the notification was submitted; until it is recorded, from its due time.
    { id: 'nis2-final-report', title: 'NIS2 Art. 23: final report', from: 'aware', within: { months: 1 }, after: 'nis2-notification' },
  ],
  sec: [{ id: 'sec-8k', title: 'SEC Form 8-K Item 1.05', from: 'materiality', within: { businessDays: 4 } }],
};

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CLOCK_STARTS: readonly ClockStart[] = ['detected', 'aware', 'materiality'];

/**
 * A custom deadline from the command line: `id:title:duration[:from]`, duration `72h`, `15d`, `1mo` or
 * `4bd` (business days), from `aware` (default), `detected` or `materiality`.
 */
export function parseDeadlineRule(text: string): DeadlineRule {
  const parts = text.split(':');
  if (parts.length < 3 || parts.length > 4) throw new UsageError(`deadline ${JSON.stringify(text)}: expected id:title:duration[:from]`);
  const [id = '', title = '', duration = '', from = 'aware'] = parts;
  if (!/^[a-z][a-z0-9-]{1,62}$/.test(id)) throw new UsageError(`deadline id ${JSON.stringify(id)}: lowercase letters, digits and dashes`);
  if (!title.trim()) throw new UsageError(`deadline ${id}: needs a title`);
  if (!CLOCK_STARTS.includes(from as ClockStart)) throw new UsageError(`deadline ${id}: starts from one of ${CLOCK_STARTS.join(', ')}`);
  const m = /^(\d{1,5})(h|d|mo|bd)$/.exec(duration);
  if (!m || Number(m[1]) === 0) throw new UsageError(`deadline ${id}: duration ${JSON.stringify(duration)} is not like 72h, 15d, 1mo or 4bd`);
  const n = Number(m[1]);
  const within = m[2] === 'h' ? { hours: n } : m[2] === 'd' ? { days: n } : m[2] === 'mo' ? { months: n } : { businessDays: n };
  return { id, title: title.trim(), from: from as ClockStart, within };
}

/** Regime names and custom rules to the rules an incident keeps; unknown names and duplicate ids are errors. */
export function buildRegimes(names: readonly string[], custom: readonly DeadlineRule[] = [], holidays: readonly string[] = []): IncidentRegimes {
  const rules: DeadlineRule[] = [];
  for (const name of names) {
    const regime = REGIMES[name];
    if (!regime) throw new UsageError(`unknown regime ${JSON.stringify(name)} (known: ${Object.keys(REGIMES).join(', ')}); add others with --deadline`);
    rules.push(...regime);
  }
  rules.push(...custom);
  const seen = new Set<string>();
  for (const r of rules) {
    if (seen.has(r.id)) throw new UsageError(`deadline ${r.id} is given twice`);
    seen.add(r.id);
  }
  for (const h of holidays) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(h) || Number.isNaN(Date.parse(`${h}T00:00:00Z`))) throw new UsageError(`holiday ${JSON.stringify(h)}: expected YYYY-MM-DD`);
  }
  return { rules, holidays: [...new Set(holidays)].sort() };
}

/** Calendar months later, the day clamped to the target month's last day (31 January + 1 month = 28/29 February). */
export function addMonths(at: number, months: number): number {
  const d = new Date(at);
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d.getTime();
}

/**
 * The end (23:59:59.999 UTC) of the n-th business day after the day of `at`: the day itself does not
 * count, Saturdays, Sundays and `holidays` are skipped.
 */
export function addBusinessDays(at: number, n: number, holidays: readonly string[] = []): number {
  const skip = new Set(holidays);
  let day = Math.floor(at / DAY) * DAY;
  let left = n;
  while (left > 0) {
    day += DAY;
    const d = new Date(day);
    const weekday = d.getUTCDay();
    if (weekday === 0 || weekday === 6 || skip.has(d.toISOString().slice(0, 10))) continue;
    left--;
  }
  return day + DAY - 1;
}

function dueFrom(base: number, rule: DeadlineRule, holidays: readonly string[]): number {
  const w = rule.within;
  if (w.businessDays !== undefined) return addBusinessDays(base, w.businessDays, holidays);
  if (w.months !== undefined) return addMonths(base, w.months);
  return base + (w.hours ?? 0) * HOUR + (w.days ?? 0) * DAY;
}

/** Every deadline of an incident, in rule order, with its state at `now`. `met` maps deadline ids to when they were met. */
export function computeDeadlines(
  incident: Pick<Incident, 'detectedAt' | 'awareAt' | 'materialityAt' | 'regimes'>,
  met: ReadonlyMap<string, number> = new Map(),
  now = Date.now(),
): Deadline[] {
  const starts: Record<ClockStart, number | null> = { detected: incident.detectedAt, aware: incident.awareAt, materiality: incident.materialityAt };
  const out = new Map<string, Deadline>();
  for (const rule of incident.regimes.rules) {
    let base = starts[rule.from];
    if (rule.after) {
      const before = out.get(rule.after);
      base = before ? (before.metAt ?? before.dueAt) : base;
    }
    const dueAt = base === null ? null : dueFrom(base, rule, incident.regimes.holidays);
    const metAt = met.get(rule.id) ?? null;
    const state: Deadline['state'] = metAt !== null ? 'met' : dueAt === null ? 'not-started' : now > dueAt ? 'overdue' : 'due';
    out.set(rule.id, { id: rule.id, title: rule.title, from: rule.from, dueAt, metAt, state });
  }
  return [...out.values()];
}

/** How far off a due deadline is (`33 d 8 h left`) or how long overdue; null when it is met or its clock has not started. */
export function timeLeft(d: Deadline, now: number): string | null {
  if (d.metAt !== null || d.dueAt === null) return null;
  return d.dueAt >= now ? `${formatDuration(d.dueAt - now)} left` : `${formatDuration(now - d.dueAt)} overdue`;
}
