import { UsageError } from './errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parses durations such as `500ms`, `5s`, `15m`, `24h`, `90d` into milliseconds. `label` names the flag
 * or field in the error (the CLI's flags and `warden.yaml` share this one parser).
 */
export function parseDuration(text: string, label: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/i.exec(text.trim());
  if (!m) throw new UsageError(`${label}: expected a duration such as 5s, 15m or 90d, got ${JSON.stringify(text)}`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!);
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * A length of time for people: days and hours from a day up (`33 d 8 h`, not `800 h`), hours below that,
 * minutes below an hour. Rounded to the unit shown last; the sign is the caller's to word (left, overdue).
 */
export function formatDuration(ms: number): string {
  const abs = Math.abs(ms);
  const minutes = Math.round(abs / MINUTE);
  if (minutes < 60) return minutes === 0 ? 'under 1 min' : `${minutes} min`;
  const hours = Math.round(abs / HOUR);
  if (hours < 24) return `${hours} h`;
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest ? `${days} d ${rest} h` : `${days} d`;
}
