import type { CanaryLedger } from './canary.js';
import type { BlockList } from 'node:net';
import type { Subscription } from '../store/index.js';
import { parseKey } from './format.js';
import { compileRanges, rangesAllow } from './ip-ranges.js';
import type { KeyRecordStore, KeyRow } from './key-records.js';
import { periodStart, RateLimiter, type QuotaPeriod, type RateLimit } from './limits.js';
import { scopesAllow } from './scopes.js';
import { hashKey, type KeySecrets } from './secret.js';
import type { Verification, VerifyReason, VerifyRequest } from './types.js';

export interface KeyVerifierOptions {
  /** Product prefix of the keys this store issues and accepts (already checked). */
  prefix: string;
  secrets: KeySecrets;
  /** How long a cached key is trusted while change notifications flow (they evict it sooner). */
  cacheTtlMs?: number;
  /** How long a cached key is trusted while the notification channel is down: the staleness bound. */
  maxStalenessMs?: number;
  /** How long "no such key" is remembered, so floods of checksum-valid guesses do not reach the store. */
  negativeTtlMs?: number;
  cacheSize?: number;
  /** How often last-used time and address are written, batched. */
  lastUsedFlushMs?: number;
  /** Where a canary's use is recorded; the write happens behind the answer. */
  canaries?: Pick<CanaryLedger, 'trip'>;
}

/** What administration tells the verifier after it changed a key in the store. */
export interface KeyChangeSink {
  /** Forgets the cached key and tells the other processes sharing the store. */
  changed(id: string, hash: string): Promise<void>;
  /** The key's rate limit changed: its window starts afresh. */
  forgetRate(id: string): void;
}

/** A key as the verifier needs it, parsed once when cached. */
interface CachedKey {
  row: KeyRow;
  /** Requested scope to whether this key grants it: wildcard matching once per scope, not per request. */
  scopeVerdicts: Map<string, boolean>;
  scopes: string[];
  ranges: BlockList | null;
  rate: RateLimit | null;
  period: QuotaPeriod | null;
  hasQuota: boolean;
  validResult: Verification;
}

interface CacheEntry {
  key: CachedKey | null;
  fetchedAt: number;
}

interface QuotaLease {
  periodStart: number;
  remaining: number;
}

const LEASE_MAX = 100;

function result(reason: VerifyReason, key: CachedKey | null): Verification {
  if (!key) return { valid: false, reason, keyId: null, owner: null, name: null, scopes: null, expiresAt: null };
  const r = key.row;
  return { valid: false, reason, keyId: r.id, owner: r.owner, name: r.name, scopes: key.scopes, expiresAt: r.expires_at };
}

const UNKNOWN = Object.freeze(result('unknown', null));
const UNAVAILABLE = Object.freeze(result('unavailable', null));

/** Constant-time equality of two hex digests (no early exit, no allocation on the hot path). */
function sameDigest(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

const MAX_SCOPE_VERDICTS = 64;

function grants(key: CachedKey, requested: readonly string[]): boolean {
  for (const scope of requested) {
    let verdict = key.scopeVerdicts.get(scope);
    if (verdict === undefined) {
      verdict = scopesAllow(key.scopes, [scope]);
      if (key.scopeVerdicts.size < MAX_SCOPE_VERDICTS) key.scopeVerdicts.set(scope, verdict);
    }
    if (!verdict) return false;
  }
  return true;
}

function compile(row: KeyRow): CachedKey {
  const scopes = Object.freeze(JSON.parse(row.scopes) as string[]) as string[];
  const ranges = row.allowed_ips ? compileRanges(JSON.parse(row.allowed_ips) as string[]) : null;
  return {
    row,
    scopes,
    scopeVerdicts: new Map(),
    ranges,
    rate: row.rate_limit !== null && row.rate_window_ms !== null ? { limit: row.rate_limit, windowMs: row.rate_window_ms } : null,
    period: (row.quota_period as QuotaPeriod | null) ?? null,
    hasQuota: row.quota_total !== null || row.quota_period_limit !== null,
    validResult: Object.freeze({ valid: true, reason: null, keyId: row.id, owner: row.owner, name: row.name, scopes, expiresAt: row.expires_at }),
  };
}

/**
 * Verification from an in-process cache that other processes' changes evict within a second (store
 * notifications) and that never trusts an entry longer than `maxStalenessMs` while the notification
 * channel is down; past that, it asks the store, or answers `unavailable`. A cache hit does no I/O:
 * quota is leased from the store in blocks and last use is written in batches.
 */
export class KeyVerifier implements KeyChangeSink {
  private readonly prefix: string;
  private readonly secrets: KeySecrets;
  private readonly cacheTtlMs: number;
  private readonly maxStalenessMs: number;
  private readonly negativeTtlMs: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly hashById = new Map<string, string>();
  private readonly rates = new RateLimiter();
  private readonly leases = new Map<string, QuotaLease>();
  private readonly pendingUse = new Map<string, { at: number; ip: string | null }>();
  private readonly flushTimer: NodeJS.Timeout;
  private subscription: Subscription | undefined;
  /** False until notifications are known to flow; without them only the staleness bound applies. */
  private channelUp = false;
  private readonly canaries: Pick<CanaryLedger, 'trip'> | undefined;

  constructor(
    private readonly records: KeyRecordStore,
    options: KeyVerifierOptions,
  ) {
    this.prefix = options.prefix;
    this.canaries = options.canaries;
    this.secrets = options.secrets;
    this.maxStalenessMs = Math.min(options.maxStalenessMs ?? 10_000, 10_000);
    this.cacheTtlMs = Math.max(options.cacheTtlMs ?? 60_000, this.maxStalenessMs);
    this.negativeTtlMs = Math.min(options.negativeTtlMs ?? 1000, this.maxStalenessMs);
    this.cacheSize = options.cacheSize ?? 100_000;
    this.flushTimer = setInterval(() => void this.flushLastUsed().catch(() => undefined), options.lastUsedFlushMs ?? 5000);
    this.flushTimer.unref();
  }

  /** Starts hearing other processes' changes; until then only the staleness bound applies. */
  async listen(): Promise<void> {
    this.subscription = await this.records.listen(
      (id, hash) => this.evict(id, hash),
      (up) => this.channelState(up),
    );
  }

  private channelState(up: boolean): void {
    // Changes made while the channel was down were never heard: start from the store again.
    if (up && !this.channelUp) this.cache.clear();
    this.channelUp = up;
  }

  private evict(id: string, hash: string): void {
    this.cache.delete(hash);
    const known = this.hashById.get(id);
    if (known) this.cache.delete(known);
    this.leases.delete(id);
  }

  async changed(id: string, hash: string): Promise<void> {
    this.evict(id, hash);
    // The change is committed; if the announcement fails, other processes fall back on the staleness bound.
    await this.records.announce(id, hash).catch(() => undefined);
  }

  forgetRate(id: string): void {
    this.rates.forget(id);
  }

  /**
   * The answer from this process's cache alone, with no I/O and no promise: undefined when the store
   * must be asked (the key is not cached, its entry is stale, or its quota lease is spent). The hot
   * path for callers that verify every request; `verify` falls back on the store.
   */
  verifyCached(token: string, request: VerifyRequest = {}): Verification | undefined {
    const hash = this.hashOf(token);
    return hash === null ? UNKNOWN : this.fromCache(hash, request, Date.now());
  }

  /** Answers whether `token` is a valid key for this request, and if not, why. Never throws. */
  async verify(token: string, request: VerifyRequest = {}): Promise<Verification> {
    const hash = this.hashOf(token);
    if (hash === null) return UNKNOWN;
    const now = Date.now();
    const cached = this.fromCache(hash, request, now);
    if (cached !== undefined) return cached;
    let entry = this.cache.get(hash);
    if (!entry || this.isStale(entry, now)) {
      try {
        entry = await this.load(token, hash, now);
      } catch {
        return UNAVAILABLE;
      }
    }
    return this.settle(entry, hash, request, now);
  }

  /**
   * `verify` for a holder who proved the key earlier and kept only its id, such as a dashboard
   * session: the key's state now (revocation, expiry, ranges, scopes, rate and quota), from the same
   * cache, and counted as a use like `verify`. Never throws.
   */
  async verifyById(id: string, request: VerifyRequest = {}): Promise<Verification> {
    const now = Date.now();
    const known = this.hashById.get(id);
    let entry = known === undefined ? undefined : this.cache.get(known);
    if (!entry?.key || entry.key.row.id !== id || this.isStale(entry, now)) {
      try {
        const row = await this.records.byId(id);
        if (!row) return UNKNOWN;
        entry = this.remember(row.hash, row, now);
      } catch {
        return UNAVAILABLE;
      }
    }
    return this.settle(entry, entry.key!.row.hash, request, now);
  }

  /**
   * The stored key behind `token` without using it (no rate, quota or last-use change), from the
   * store rather than the cache; undefined when unknown. Throws when the store does.
   */
  async lookup(token: string): Promise<KeyRow | undefined> {
    const hash = this.hashOf(token);
    if (hash === null) return undefined;
    const { key } = await this.load(token, hash, Date.now());
    return key && sameDigest(key.row.hash, hash) ? key.row : undefined;
  }

  /** The checks after a cache entry is fresh: `decide`, then, when the quota lease is spent, a new lease. */
  private async settle(entry: CacheEntry, hash: string, request: VerifyRequest, now: number): Promise<Verification> {
    const verdict = this.decide(entry.key, hash, request, now);
    if (verdict !== 'lease') return verdict;
    const key = entry.key!;
    if (key.rate && !this.rates.take(key.row.id, key.rate, now)) return result('rate_limited', key);
    try {
      if (!(await this.leaseQuota(key, now))) return result('quota_exhausted', key);
    } catch {
      return UNAVAILABLE;
    }
    return this.used(key, request, now);
  }

  /** The keyed hash of a token that passes the offline check (shape, checksum, this store's prefix); null otherwise. */
  private hashOf(token: string): string | null {
    const parsed = parseKey(token);
    return parsed && parsed.prefix === this.prefix ? hashKey(token, this.secrets.current) : null;
  }

  /** The cache's answer for a key hash, or undefined when the store must be asked. */
  private fromCache(hash: string, request: VerifyRequest, now: number): Verification | undefined {
    const entry = this.cache.get(hash);
    if (!entry || this.isStale(entry, now)) return undefined;
    const verdict = this.decide(entry.key, hash, request, now);
    return verdict === 'lease' ? undefined : verdict;
  }

  private isStale(entry: CacheEntry, now: number): boolean {
    return now - entry.fetchedAt > (entry.key ? (this.channelUp ? this.cacheTtlMs : this.maxStalenessMs) : this.negativeTtlMs);
  }

  /**
   * Every check a cached key allows without I/O, in the order the reasons are reported. 'lease' when
   * the key has a quota and no local lease left: nothing has been consumed then, and the caller renews.
   */
  private decide(key: CachedKey | null, hash: string, request: VerifyRequest, now: number): Verification | 'lease' {
    if (!key || !sameDigest(key.row.hash, hash)) return UNKNOWN;
    const row = key.row;
    // Any use of a canary is a trip, whatever else the request says; the holder sees an ordinary revoked key.
    if (row.canary) {
      this.canaries?.trip(row.id, request, now);
      return result('revoked', key);
    }
    if (request.tenant !== undefined && request.tenant !== row.owner) return UNKNOWN;
    if (row.revoked_at !== null && row.revoked_at <= now) return result('revoked', key);
    if (row.disabled_at !== null) return result('disabled', key);
    if (row.expires_at !== null && row.expires_at <= now) return result('expired', key);
    if (key.ranges && !(request.ip && rangesAllow(key.ranges, request.ip))) return result('ip', key);
    if (request.scopes && !grants(key, request.scopes)) return result('scope', key);
    const lease = key.hasQuota ? this.leases.get(row.id) : undefined;
    if (key.hasQuota && !(lease && lease.periodStart === (key.period ? periodStart(key.period, now) : 0) && lease.remaining > 0)) return 'lease';
    if (key.rate && !this.rates.take(row.id, key.rate, now)) return result('rate_limited', key);
    if (lease) lease.remaining--;
    return this.used(key, request, now);
  }

  /** Records the use for the next batched last-used write; one object per key between flushes. */
  private used(key: CachedKey, request: VerifyRequest, now: number): Verification {
    const use = this.pendingUse.get(key.row.id);
    if (use) {
      use.at = now;
      use.ip = request.ip ?? null;
    } else {
      this.pendingUse.set(key.row.id, { at: now, ip: request.ip ?? null });
    }
    return key.validResult;
  }

  /** Fetches by hash under every secret version; a key found under an old version is rehashed. */
  private async load(token: string, hash: string, now: number): Promise<CacheEntry> {
    const hashes = this.secrets.all.map((s) => (s === this.secrets.current ? hash : hashKey(token, s)));
    let row = await this.records.byHashes(hashes);
    if (row && row.hash !== hash) {
      await this.records.rehash(row.id, hash, this.secrets.current.version);
      row = { ...row, hash, hash_version: this.secrets.current.version };
    }
    return this.remember(hash, row, now);
  }

  private remember(hash: string, row: KeyRow | undefined, now: number): CacheEntry {
    const entry: CacheEntry = { key: row ? compile(row) : null, fetchedAt: now };
    if (this.cache.size >= this.cacheSize) {
      // Maps iterate in insertion order: dropping the first entry drops the oldest.
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.delete(hash);
    this.cache.set(hash, entry);
    if (row) this.hashById.set(row.id, hash);
    return entry;
  }

  /**
   * Quota is leased from the store in small blocks, so most requests spend a local count and the
   * shared total is never exceeded; a block left unused is returned on close. Leases a block and
   * spends one unit of it; false when the store has none left.
   */
  private async leaseQuota(key: CachedKey, now: number): Promise<boolean> {
    const row = key.row;
    const ps = key.period ? periodStart(key.period, now) : 0;
    const periodUsed = row.quota_period_start === ps ? row.quota_period_used : 0;
    const left = Math.min(
      row.quota_total !== null ? row.quota_total - row.quota_used : Infinity,
      row.quota_period_limit !== null ? row.quota_period_limit - periodUsed : Infinity,
    );
    const want = Math.max(1, Math.min(LEASE_MAX, Math.floor(left / 20)));
    for (const n of want > 1 ? [want, 1] : [1]) {
      if (await this.records.takeQuota(row.id, n, ps)) {
        const current = this.leases.get(row.id);
        const carried = current && current.periodStart === ps ? current.remaining : 0;
        this.leases.set(row.id, { periodStart: ps, remaining: carried + n - 1 });
        return true;
      }
    }
    return false;
  }

  private async returnLeases(): Promise<void> {
    const leases = [...this.leases.entries()].filter(([, l]) => l.remaining > 0);
    this.leases.clear();
    for (const [id, l] of leases) await this.records.returnQuota(id, l.remaining, l.periodStart);
  }

  /** Writes last-used times in one transaction; a time only moves forward. */
  async flushLastUsed(): Promise<void> {
    if (this.pendingUse.size === 0) return;
    const batch = [...this.pendingUse.entries()];
    this.pendingUse.clear();
    await this.records.transaction((tx) => tx.recordUses(batch));
  }

  /** Flushes last-used times, returns unused quota and stops listening. */
  async close(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.subscription?.close();
    await this.flushLastUsed().catch(() => undefined);
    await this.returnLeases().catch(() => undefined);
  }
}
