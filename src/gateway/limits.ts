/**
 * What one client may take of an upstream. A cap on the exchanges one identity has in flight on an upstream
 * pool, so that no credential can hold every connection to it: 300 slow uploads with one key once held all 256
 * and other tenants waited 28 s. And a floor on the rate a request body arrives at, so that a trickling upload
 * cannot hold its connection for long either.
 */
import type { Identity } from './auth/identity.js';
import type { RouteLimits } from './config.js';
import type { ClientBody } from './server.js';

/** Who a concurrency limit counts: the identity a credential proved, or without one (a public endpoint) the client's address. */
export function limitedParty(identity: Identity | null, clientIp: string): string {
  return identity ? `${identity.kind} ${identity.issuer ?? ''} ${identity.subject}` : `ip ${clientIp}`;
}

/** Exchanges in flight per party, per upstream pool: routes to one upstream share its pool, and so their counts. */
export class InFlightLimits {
  private readonly byPool = new WeakMap<object, Map<string, number>>();

  /** Takes a place for one exchange; false when the party already has `limit` in flight there. */
  acquire(pool: object, party: string, limit: number): boolean {
    let counts = this.byPool.get(pool);
    if (!counts) this.byPool.set(pool, (counts = new Map()));
    const n = counts.get(party) ?? 0;
    if (n >= limit) return false;
    counts.set(party, n + 1);
    return true;
  }

  release(pool: object, party: string): void {
    const counts = this.byPool.get(pool);
    const n = counts?.get(party);
    if (n === undefined) return;
    if (n > 1) counts!.set(party, n - 1);
    else counts!.delete(party);
  }
}

/**
 * Watches a request body: each time the server has spent `windowMs` reading the client's connection, the bytes
 * that arrived meanwhile must come to `minBytesPerSecond`, or `tooSlow` is called (once). Time in which the server
 * held reading back (its upstream was slow to take the body) does not count against the client. The first window
 * is the grace period. Returns what stops watching; it also stops once the whole body has arrived.
 */
export function watchBodyRate(body: ClientBody, rate: RouteLimits['bodyRate'], tooSlow: () => void): () => void {
  if (rate.minBytesPerSecond <= 0) return () => undefined;
  let bytes = body.received;
  let readingMs = body.readingMs;
  const check = (): void => {
    if (body.arrived || body.destroyed) return;
    const read = body.readingMs - readingMs;
    // Reading was held back for part of the window: look again once the server has read for a whole one.
    if (read < rate.windowMs) return arm(Math.max(rate.windowMs - read, rate.windowMs / 4));
    if ((body.received - bytes) * 1000 < rate.minBytesPerSecond * read) return tooSlow();
    bytes = body.received;
    readingMs = body.readingMs;
    arm(rate.windowMs);
  };
  let timer: NodeJS.Timeout;
  const arm = (ms: number): void => {
    timer = setTimeout(check, ms);
    timer.unref();
  };
  arm(rate.windowMs);
  return () => clearTimeout(timer);
}
