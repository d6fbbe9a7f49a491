export type QuotaPeriod = 'minute' | 'hour' | 'day' | 'week' | 'month';
export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['minute', 'hour', 'day', 'week', 'month'];

export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface Quota {
  /** Requests over the key's whole life. */
  total?: number | null;
  /** Requests per calendar period (UTC), refilled at the start of each. */
  perPeriod?: { limit: number; period: QuotaPeriod } | null;
}

const WINDOW_UNITS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
};
const PERIOD_ALIASES: Record<string, QuotaPeriod> = {
  min: 'minute',
  minute: 'minute',
  h: 'hour',
  hour: 'hour',
  d: 'day',
  day: 'day',
  w: 'week',
  week: 'week',
  mo: 'month',
  month: 'month',
};

/** `100/min`, `10/s`, `5000/hour`: requests per window. Null when the text does not parse. */
export function parseRateLimit(text: string): RateLimit | null {
  const m = /^(\d{1,9})\s*\/\s*(\d{0,6})\s*([a-z]+)$/i.exec(text.trim());
  const unit = m ? WINDOW_UNITS[m[3]!.toLowerCase()] : undefined;
  if (!m || !unit || Number(m[1]) < 1) return null;
  return { limit: Number(m[1]), windowMs: unit * (m[2] ? Number(m[2]) : 1) };
}

/** `10000/month` (refilled each month) or `50000` (a lifetime total). Null when the text does not parse. */
export function parseQuota(text: string): Quota | null {
  const m = /^(\d{1,12})(?:\s*\/\s*([a-z]+))?$/i.exec(text.trim());
  if (!m || Number(m[1]) < 1) return null;
  if (!m[2]) return { total: Number(m[1]) };
  const period = PERIOD_ALIASES[m[2].toLowerCase()];
  return period ? { perPeriod: { limit: Number(m[1]), period } } : null;
}

/** Start (epoch ms, UTC) of the quota period holding `now`; weeks start on Monday. */
export function periodStart(period: QuotaPeriod, now: number): number {
  const d = new Date(now);
  switch (period) {
    case 'minute':
      return now - (now % 60_000);
    case 'hour':
      return now - (now % 3_600_000);
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'week':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
}

interface WindowCounter {
  windowStart: number;
  current: number;
  previous: number;
}

/**
 * Sliding-window rate limiting kept in this process: the previous fixed window's count is weighted
 * by how much of it still overlaps, which smooths the burst a plain fixed window allows at its edge.
 * Each verifier process counts on its own (see docs/keys.md).
 */
export class RateLimiter {
  private readonly counters = new Map<string, WindowCounter>();

  /** Counts one request; false when it would exceed the limit (then it is not counted). */
  take(id: string, limit: RateLimit, now: number): boolean {
    const start = now - (now % limit.windowMs);
    let c = this.counters.get(id);
    if (!c) this.counters.set(id, (c = { windowStart: start, current: 0, previous: 0 }));
    if (c.windowStart !== start) {
      c.previous = start - c.windowStart === limit.windowMs ? c.current : 0;
      c.current = 0;
      c.windowStart = start;
    }
    const overlap = 1 - (now - start) / limit.windowMs;
    if (c.current + c.previous * overlap >= limit.limit) return false;
    c.current++;
    return true;
  }

  forget(id: string): void {
    this.counters.delete(id);
  }
}
