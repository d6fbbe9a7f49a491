/** When each inventory runs next: an interval from its last start, or the next cron time, plus jitter. */
import { CronExpressionParser } from 'cron-parser';
import type { Schedule } from '../config/index.js';

export function nextRunAt(schedule: Schedule, now: number, lastStartedAt: number | undefined): number {
  if (schedule.kind === 'interval') return lastStartedAt === undefined ? now : Math.max(now, lastStartedAt + schedule.everyMs);
  return CronExpressionParser.parse(schedule.expression, { currentDate: new Date(now) })
    .next()
    .getTime();
}

/** setTimeout caps delays at 2^31-1 ms (about 24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Timer {
  cancel(): void;
}

export function runAt(at: number, fn: () => void, now: () => number = Date.now): Timer {
  let handle: NodeJS.Timeout;
  const arm = () => {
    const delay = at - now();
    if (delay > MAX_TIMER_MS) handle = setTimeout(arm, MAX_TIMER_MS);
    else handle = setTimeout(fn, Math.max(0, delay));
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}
