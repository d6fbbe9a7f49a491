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
