/**
 * Failed authentications (dashboard logins and API keys): counted for /metrics, and limited per source
 * address with a token bucket, so no host can try keys quickly. Only wrong keys spend the bucket; a
 * request without a key guesses nothing. An address whose bucket is empty is refused before its key is
 * looked at, valid or not, until the bucket refills; other addresses are not affected.
 */
import { isIP } from 'node:net';

export type AuthWay = 'login' | 'bearer';

/** Wrong keys an address may try at once (login and API together), then per minute. */
const BURST = 10;
const PER_MINUTE = 10;
const PER_MS = PER_MINUTE / 60_000;
/** Past this many addresses, the one quiet longest is forgotten (its bucket has most likely refilled). */
const MAX_SOURCES = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

/** The address a failure is charged to: IPv4 as is, IPv6 by its /64, the smallest block a host is usually given. */
export function sourceOf(ip: string): string {
  const plain = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  if (isIP(plain) !== 6) return plain;
  const [head = '', tail = ''] = plain.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = plain.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export class AuthFailures {
  private readonly buckets = new Map<string, Bucket>();
  private readonly counts = new Map<string, number>();

  private refilled(source: string, now: number): Bucket | undefined {
    const b = this.buckets.get(source);
    if (b) {
      b.tokens = Math.min(BURST, b.tokens + (now - b.at) * PER_MS);
      b.at = now;
    }
    return b;
  }

  /** Whole seconds until `ip` may try a key again; 0 when it may now. */
  retryAfter(ip: string, now = Date.now()): number {
    const b = this.refilled(sourceOf(ip), now);
    return !b || b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / PER_MS / 1000);
  }

  /** Counts a failure; `charge` spends one of the address's tokens (a wrong key, not a missing one). */
  fail(ip: string, way: AuthWay, reason: string, charge: boolean, now = Date.now()): void {
    const key = `${way} ${reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (!charge) return;
    const source = sourceOf(ip);
    const b = this.refilled(source, now) ?? { tokens: BURST, at: now };
    b.tokens = Math.max(0, b.tokens - 1);
    // Re-inserted, so the map's order runs from the longest quiet address to the latest.
    this.buckets.delete(source);
    if (this.buckets.size >= MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(source, b);
  }

  /** For /metrics: failures so far by way and reason. */
  rows(): Array<[Record<string, string>, number]> {
    return [...this.counts].map(([key, n]) => {
      const [way = '', reason = ''] = key.split(' ');
      return [{ way, reason }, n];
    });
  }
}
