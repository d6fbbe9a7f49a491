import { createHash } from 'node:crypto';
import type { BlockList } from 'node:net';
import { userInfo } from 'node:os';
import { WardenError } from '../errors.js';
import { openStore, type SqlValue, type Store, type StoreQueries, type Subscription } from '../store/index.js';
import { DEFAULT_KEY_PREFIX, generateKey, isValidPrefix, KEY_ENVIRONMENTS, newKeyId, parseKey } from './format.js';
import { CanaryLedger } from './canary.js';
import { compileRanges, invalidRange, rangesAllow } from './ip-ranges.js';
import { periodStart, QUOTA_PERIODS, RateLimiter, type QuotaPeriod, type RateLimit } from './limits.js';
import { KEY_MIGRATIONS } from './schema.js';
import { isValidScope, scopesAllow } from './scopes.js';
import { hashKey, loadKeySecrets, type KeySecrets } from './secret.js';
import {
  LEAK_POLICIES,
  type ActionContext,
  type AuditEntry,
  type CanaryInfo,
  type CreateCanaryOptions,
  type CreateKeyOptions,
  type KeyChanges,
  type KeyInfo,
  type KeyStatus,
  type LeakEvent,
  type LeakOutcome,
  type LeakPolicy,
  type LeakReport,
  type Verification,
  type VerifyReason,
  type VerifyRequest,
} from './types.js';

export class KeyNotFoundError extends WardenError {
  constructor(id: string) {
    super(`no key with id ${JSON.stringify(id)}`, 'KEY_NOT_FOUND', 2);
  }
}

export class KeyOptionsError extends WardenError {
  constructor(message: string) {
    super(message, 'KEY_OPTIONS_INVALID', 2);
  }
}

export interface KeyStoreOptions {
  /** A store, or where to open one (SQLite path, `:memory:`, `postgres://…`); default SQLite file. */
  store?: Store | string;
  /** Server secrets for hashing; default WARDEN_KEY_SECRET or the generated secret file. */
  secrets?: KeySecrets;
  /** Product prefix of the keys this store issues and accepts. */
  prefix?: string;
  /** How long a cached key is trusted while change notifications flow (they evict it sooner). */
  cacheTtlMs?: number;
  /** How long a cached key is trusted while the notification channel is down: the staleness bound. */
  maxStalenessMs?: number;
  /** How long "no such key" is remembered, so floods of checksum-valid guesses do not reach the store. */
  negativeTtlMs?: number;
  cacheSize?: number;
  /** How often last-used time and address are written, batched. */
  lastUsedFlushMs?: number;
  /** Listen for changes made by other processes (default true). */
  notifications?: boolean;
  onLeak?: (event: LeakEvent) => void;
}

interface KeyRow {
  id: string;
  hash: string;
  hash_version: number;
  prefix: string;
  last4: string;
  owner: string;
  name: string;
  scopes: string;
  allowed_ips: string | null;
  expires_at: number | null;
  rate_limit: number | null;
  rate_window_ms: number | null;
  quota_total: number | null;
  quota_used: number;
  quota_period: string | null;
  quota_period_limit: number | null;
  quota_period_start: number;
  quota_period_used: number;
  leak_policy: string;
  disabled_at: number | null;
  revoked_at: number | null;
  revoke_reason: string | null;
  rotated_to: string | null;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  last_used_ip: string | null;
  canary: number;
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

const TOPIC = 'keys';
const LEASE_MAX = 100;

function result(reason: VerifyReason, key: CachedKey | null): Verification {
  if (!key) return { valid: false, reason, keyId: null, owner: null, name: null, scopes: null, expiresAt: null };
  const r = key.row;
  return { valid: false, reason, keyId: r.id, owner: r.owner, name: r.name, scopes: key.scopes, expiresAt: r.expires_at };
}

const UNKNOWN = Object.freeze(result('unknown', null));
const UNAVAILABLE = Object.freeze(result('unavailable', null));

function defaultActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'library';
  }
}

function statusOf(row: KeyRow, now: number): KeyStatus {
  if (row.canary) return 'canary';
  if (row.revoked_at !== null && row.revoked_at <= now) return 'revoked';
  if (row.disabled_at !== null) return 'disabled';
  if (row.expires_at !== null && row.expires_at <= now) return 'expired';
  return row.revoked_at !== null ? 'rotating' : 'active';
}

function toInfo(row: KeyRow, now = Date.now()): KeyInfo {
  const hasQuota = row.quota_total !== null || row.quota_period_limit !== null;
  const periodUsed = row.quota_period && row.quota_period_start === periodStart(row.quota_period as QuotaPeriod, now) ? row.quota_period_used : 0;
  return {
    id: row.id,
    display: `${row.prefix}_…${row.last4}`,
    owner: row.owner,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    status: statusOf(row, now),
    allowedIps: row.allowed_ips ? (JSON.parse(row.allowed_ips) as string[]) : null,
    expiresAt: row.expires_at,
    rateLimit: row.rate_limit !== null && row.rate_window_ms !== null ? { limit: row.rate_limit, windowMs: row.rate_window_ms } : null,
    quota: hasQuota
      ? {
          total: row.quota_total,
          used: row.quota_used,
          perPeriod: row.quota_period && row.quota_period_limit !== null ? { limit: row.quota_period_limit, period: row.quota_period, used: periodUsed } : null,
        }
      : null,
    leakPolicy: row.leak_policy as LeakPolicy,
    revokedAt: row.revoked_at,
    revokeReason: row.revoke_reason,
    disabledAt: row.disabled_at,
    rotatedTo: row.rotated_to,
    createdAt: row.created_at,
    createdBy: row.created_by,
    lastUsedAt: row.last_used_at,
    lastUsedIp: row.last_used_ip,
  };
}

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

/** Checks options and turns them into column values; throws KeyOptionsError naming the field. */
function columnsFor(opts: KeyChanges): Record<string, SqlValue> {
  const cols: Record<string, SqlValue> = {};
  if (opts.name !== undefined) {
    if (!opts.name.trim() || opts.name.length > 200) throw new KeyOptionsError('name must be 1-200 characters');
    cols.name = opts.name;
  }
  if (opts.scopes !== undefined) {
    const bad = opts.scopes.find((s) => !isValidScope(s));
    if (bad !== undefined) throw new KeyOptionsError(`invalid scope ${JSON.stringify(bad)}: use resource:action, with * for a whole segment`);
    if (opts.scopes.length === 0) throw new KeyOptionsError('a key needs at least one scope');
    cols.scopes = JSON.stringify([...new Set(opts.scopes)]);
  }
  if (opts.expiresAt !== undefined) {
    if (opts.expiresAt !== null && !Number.isSafeInteger(opts.expiresAt)) throw new KeyOptionsError('expiresAt must be epoch milliseconds');
    cols.expires_at = opts.expiresAt;
  }
  if (opts.allowedIps !== undefined) {
    const bad = opts.allowedIps ? invalidRange(opts.allowedIps) : null;
    if (bad !== null) throw new KeyOptionsError(`invalid address range ${JSON.stringify(bad)}`);
    cols.allowed_ips = opts.allowedIps && opts.allowedIps.length ? JSON.stringify(opts.allowedIps) : null;
  }
  if (opts.rateLimit !== undefined) {
    const r = opts.rateLimit;
    if (r && !(Number.isSafeInteger(r.limit) && r.limit > 0 && Number.isSafeInteger(r.windowMs) && r.windowMs >= 1000)) {
      throw new KeyOptionsError('rate limit needs a positive count and a window of at least 1 s');
    }
    cols.rate_limit = r ? r.limit : null;
    cols.rate_window_ms = r ? r.windowMs : null;
  }
  if (opts.quota !== undefined) {
    const q = opts.quota;
    const total = q?.total ?? null;
    const per = q?.perPeriod ?? null;
    if (total !== null && !(Number.isSafeInteger(total) && total > 0)) throw new KeyOptionsError('quota total must be a positive integer');
    if (per && !(Number.isSafeInteger(per.limit) && per.limit > 0 && QUOTA_PERIODS.includes(per.period))) {
      throw new KeyOptionsError(`quota per period needs a positive count and one of ${QUOTA_PERIODS.join(', ')}`);
    }
    cols.quota_total = total;
    cols.quota_period = per ? per.period : null;
    cols.quota_period_limit = per ? per.limit : null;
  }
  if (opts.leakPolicy !== undefined) {
    if (!LEAK_POLICIES.includes(opts.leakPolicy)) throw new KeyOptionsError(`leak policy must be one of ${LEAK_POLICIES.join(', ')}`);
    cols.leak_policy = opts.leakPolicy;
  }
  return cols;
}

/**
 * Warden API keys: issue, verify, rotate, revoke and report leaks. Only a keyed hash of each key is
 * stored. Verification runs from an in-process cache that other processes' changes evict within a
 * second (store notifications) and that never trusts an entry longer than `maxStalenessMs` while
 * the notification channel is down; past that, it asks the store, or answers `unavailable`.
 */
export class KeyStore {
  readonly store: Store;
  readonly prefix: string;
  private readonly secrets: KeySecrets;
  private readonly ownsStore: boolean;
  private readonly cacheTtlMs: number;
  private readonly maxStalenessMs: number;
  private readonly negativeTtlMs: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly hashById = new Map<string, string>();
  private readonly rates = new RateLimiter();
  private readonly leases = new Map<string, QuotaLease>();
  private readonly pendingUse = new Map<string, { at: number; ip: string | null }>();
  private readonly onLeak: ((event: LeakEvent) => void) | undefined;
  readonly canaries: CanaryLedger;
  private flushTimer: NodeJS.Timeout | undefined;
  private subscription: Subscription | undefined;
  /** False until notifications are known to flow; without them only the staleness bound applies. */
  private channelUp = false;
  private closed = false;

  private constructor(store: Store, ownsStore: boolean, options: KeyStoreOptions) {
    this.store = store;
    this.ownsStore = ownsStore;
    this.prefix = options.prefix ?? DEFAULT_KEY_PREFIX;
    if (!isValidPrefix(this.prefix)) throw new KeyOptionsError(`invalid key prefix ${JSON.stringify(this.prefix)}`);
    this.secrets = options.secrets ?? loadKeySecrets();
    this.maxStalenessMs = Math.min(options.maxStalenessMs ?? 10_000, 10_000);
    this.cacheTtlMs = Math.max(options.cacheTtlMs ?? 60_000, this.maxStalenessMs);
    this.negativeTtlMs = Math.min(options.negativeTtlMs ?? 1000, this.maxStalenessMs);
    this.cacheSize = options.cacheSize ?? 100_000;
    this.onLeak = options.onLeak;
    this.canaries = new CanaryLedger(store);
    this.flushTimer = setInterval(() => void this.flushLastUsed().catch(() => undefined), options.lastUsedFlushMs ?? 5000);
    this.flushTimer.unref();
  }

  /** Opens (and migrates) the key tables in a store. */
  static async open(options: KeyStoreOptions = {}): Promise<KeyStore> {
    const ownsStore = !options.store || typeof options.store === 'string';
    const store = typeof options.store === 'object' ? options.store : openStore(options.store);
    try {
      await store.migrate('keys', KEY_MIGRATIONS);
      const keys = new KeyStore(store, ownsStore, options);
      if (options.notifications !== false) {
        keys.subscription = await store.subscribe(TOPIC, {
          onMessage: (payload) => keys.evict(payload),
          onState: (up) => keys.channelState(up),
        });
      }
      return keys;
    } catch (err) {
      if (ownsStore) await store.close();
      throw err;
    }
  }

  private channelState(up: boolean): void {
    // Changes made while the channel was down were never heard: start from the store again.
    if (up && !this.channelUp) this.cache.clear();
    this.channelUp = up;
  }

  private evict(payload: string): void {
    const [id = '', hash = ''] = payload.split(' ');
    this.cache.delete(hash);
    const known = this.hashById.get(id);
    if (known) this.cache.delete(known);
    this.leases.delete(id);
  }

  private async changed(id: string, hash: string): Promise<void> {
    this.evict(`${id} ${hash}`);
    // The change is committed; if the announcement fails, other processes fall back on the staleness bound.
    await this.store.publish(TOPIC, `${id} ${hash}`).catch(() => undefined);
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
        const [row] = await this.store.query<KeyRow>('SELECT * FROM warden_keys WHERE id = ?', [id]);
        if (!row) return UNKNOWN;
        entry = this.remember(row.hash, row, now);
      } catch {
        return UNAVAILABLE;
      }
    }
    return this.settle(entry, entry.key!.row.hash, request, now);
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
      this.canaries.trip(row.id, request, now);
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

  /**
   * The key behind `token` without using it: no rate, quota or last-use change, so incident triage can
   * name a leaked key's owner and scopes and leave its traces as the attacker left them. Null when unknown.
   */
  async identify(token: string): Promise<KeyInfo | null> {
    const hash = this.hashOf(token);
    if (hash === null) return null;
    const { key } = await this.load(token, hash, Date.now());
    if (!key || !sameDigest(key.row.hash, hash)) return null;
    return this.show(key.row.id);
  }

  /** Fetches by hash under every secret version; a key found under an old version is rehashed. */
  private async load(token: string, hash: string, now: number): Promise<CacheEntry> {
    const hashes = this.secrets.all.map((s) => (s === this.secrets.current ? hash : hashKey(token, s)));
    const rows = await this.store.query<KeyRow>(`SELECT * FROM warden_keys WHERE hash IN (${hashes.map(() => '?').join(', ')})`, hashes);
    let row = rows[0];
    if (row && row.hash !== hash) {
      await this.store.run('UPDATE warden_keys SET hash = ?, hash_version = ? WHERE id = ?', [hash, this.secrets.current.version, row.id]);
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
      const changed = await this.store.run(
        `UPDATE warden_keys SET
           quota_used = quota_used + ?,
           quota_period_used = (CASE WHEN quota_period_start = ? THEN quota_period_used ELSE 0 END) + ?,
           quota_period_start = ?
         WHERE id = ?
           AND (quota_total IS NULL OR quota_used + ? <= quota_total)
           AND (quota_period_limit IS NULL OR (CASE WHEN quota_period_start = ? THEN quota_period_used ELSE 0 END) + ? <= quota_period_limit)`,
        [n, ps, n, ps, row.id, n, ps, n],
      );
      if (changed === 1) {
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
    for (const [id, l] of leases) {
      await this.store.run(
        `UPDATE warden_keys SET quota_used = quota_used - ?,
           quota_period_used = CASE WHEN quota_period_start = ? THEN quota_period_used - ? ELSE quota_period_used END
         WHERE id = ?`,
        [l.remaining, l.periodStart, l.remaining, id],
      );
    }
  }

  /** Writes last-used times in one transaction; a time only moves forward. */
  async flushLastUsed(): Promise<void> {
    if (this.pendingUse.size === 0) return;
    const batch = [...this.pendingUse.entries()];
    this.pendingUse.clear();
    await this.store.transaction(async (tx) => {
      for (const [id, use] of batch) {
        await tx.run('UPDATE warden_keys SET last_used_at = ?, last_used_ip = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [use.at, use.ip, id, use.at]);
      }
    });
  }

  private async audit(tx: StoreQueries, ctx: ActionContext, action: string, keyId: string | null, details: Record<string, unknown>): Promise<void> {
    await tx.run('INSERT INTO warden_key_audit (at, actor, source, action, key_id, details) VALUES (?, ?, ?, ?, ?, ?)', [
      Date.now(),
      ctx.actor ?? defaultActor(),
      ctx.source ?? null,
      action,
      keyId,
      JSON.stringify(details),
    ]);
  }

  private async row(tx: StoreQueries, id: string): Promise<KeyRow> {
    const [row] = await tx.query<KeyRow>('SELECT * FROM warden_keys WHERE id = ?', [id]);
    if (!row) throw new KeyNotFoundError(id);
    return row;
  }

  private async insertKey(tx: StoreQueries, opts: CreateKeyOptions, ctx: ActionContext, inherit?: KeyRow, canary = false): Promise<{ key: string; row: KeyRow }> {
    if (!opts.owner?.trim() || opts.owner.length > 200) throw new KeyOptionsError('owner must be 1-200 characters');
    const env = opts.env ?? 'live';
    if (!KEY_ENVIRONMENTS.includes(env)) throw new KeyOptionsError(`environment must be one of ${KEY_ENVIRONMENTS.join(', ')}`);
    const cols = columnsFor({ leakPolicy: 'revoke', ...opts });
    const key = generateKey(this.prefix, env);
    const now = Date.now();
    const all: Record<string, SqlValue> = {
      id: newKeyId(),
      hash: hashKey(key, this.secrets.current),
      hash_version: this.secrets.current.version,
      prefix: `${this.prefix}_${env}`,
      last4: key.slice(-4),
      owner: opts.owner,
      ...cols,
      quota_used: inherit?.quota_used ?? 0,
      quota_period_start: inherit?.quota_period_start ?? 0,
      quota_period_used: inherit?.quota_period_used ?? 0,
      created_at: now,
      created_by: ctx.actor ?? defaultActor(),
      canary: canary ? 1 : 0,
    };
    const names = Object.keys(all);
    await tx.run(`INSERT INTO warden_keys (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`, Object.values(all));
    return { key, row: await this.row(tx, all.id as string) };
  }

  /** Issues a key. The returned `key` is the only time it exists outside its holder's hands. */
  async create(opts: CreateKeyOptions, ctx: ActionContext = {}): Promise<{ key: string; info: KeyInfo }> {
    const { key, row } = await this.store.transaction(async (tx) => {
      const made = await this.insertKey(tx, opts, ctx);
      await this.audit(tx, ctx, 'create', made.row.id, { owner: made.row.owner, name: made.row.name, scopes: JSON.parse(made.row.scopes) as unknown });
      return made;
    });
    await this.changed(row.id, row.hash);
    return { key, info: toInfo(row) };
  }

  /**
   * Issues a canary: a key in the live format that no client holds, refused like a revoked key, whose every
   * use is recorded as a trip. The returned `key` is what gets planted; it is shown this once.
   */
  async createCanary(opts: CreateCanaryOptions, ctx: ActionContext = {}): Promise<{ key: string; info: CanaryInfo }> {
    const where = opts.where.trim();
    if (!where || where.length > 500) throw new KeyOptionsError('where must be 1-500 characters: the place the canary is planted');
    const keyOptions: CreateKeyOptions = { owner: opts.owner ?? 'svc-analytics', name: opts.name ?? 'reporting', scopes: opts.scopes ?? ['clickhouse:read'], env: opts.env ?? 'live' };
    const { key, row } = await this.store.transaction(async (tx) => {
      const made = await this.insertKey(tx, keyOptions, ctx, undefined, true);
      await this.canaries.record(tx, made.row.id, where, made.row.created_at);
      await this.audit(tx, ctx, 'canary-create', made.row.id, { where });
      return made;
    });
    await this.changed(row.id, row.hash);
    const info = (await this.canaries.list()).find((c) => c.id === row.id)!;
    return { key, info };
  }

  /** Keys clients hold; canaries are listed by `canaries.list()`. */
  async list(filter: { owner?: string } = {}): Promise<KeyInfo[]> {
    const rows = filter.owner
      ? await this.store.query<KeyRow>('SELECT * FROM warden_keys WHERE owner = ? AND canary = 0 ORDER BY created_at, id', [filter.owner])
      : await this.store.query<KeyRow>('SELECT * FROM warden_keys WHERE canary = 0 ORDER BY created_at, id');
    return rows.map((r) => toInfo(r));
  }

  async show(id: string): Promise<KeyInfo> {
    return toInfo(await this.row(this.store, id));
  }

  async update(id: string, changes: KeyChanges, ctx: ActionContext = {}): Promise<KeyInfo> {
    const cols = columnsFor(changes);
    if (Object.keys(cols).length === 0) throw new KeyOptionsError('nothing to change');
    const row = await this.store.transaction(async (tx) => {
      await this.row(tx, id);
      await tx.run(`UPDATE warden_keys SET ${Object.keys(cols).map((c) => `${c} = ?`).join(', ')} WHERE id = ?`, [...Object.values(cols), id]);
      await this.audit(tx, ctx, 'update', id, { changed: changes });
      return this.row(tx, id);
    });
    this.rates.forget(id);
    await this.changed(id, row.hash);
    return toInfo(row);
  }

  /** Stops a key now. Revoking is final; a key mid-rotation stops at once instead of at its window's end. */
  async revoke(id: string, reason: string, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.setState(id, 'revoke', { reason }, ctx);
  }

  /** Suspends a key until `enable`; what the `disable` leak policy does. */
  async disable(id: string, reason: string, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.setState(id, 'disable', { reason }, ctx);
  }

  async enable(id: string, ctx: ActionContext = {}): Promise<KeyInfo> {
    return this.setState(id, 'enable', {}, ctx);
  }

  private async setState(id: string, action: 'revoke' | 'disable' | 'enable', details: { reason?: string }, ctx: ActionContext): Promise<KeyInfo> {
    const row = await this.store.transaction(async (q) => {
      const now = Date.now();
      await this.row(q, id);
      if (action === 'revoke') {
        await q.run('UPDATE warden_keys SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND (revoked_at IS NULL OR revoked_at > ?)', [now, details.reason ?? null, id, now]);
      } else if (action === 'disable') {
        await q.run('UPDATE warden_keys SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL', [now, id]);
      } else {
        await q.run('UPDATE warden_keys SET disabled_at = NULL WHERE id = ?', [id]);
      }
      await this.audit(q, ctx, action, id, details);
      return this.row(q, id);
    });
    await this.changed(id, row.hash);
    return toInfo(row);
  }

  /**
   * Issues a successor with the same owner, scopes, limits and quota usage; the old key keeps
   * working for `overlapMs`, then stops by itself (no timer: verification compares times).
   */
  async rotate(id: string, options: { overlapMs?: number } = {}, ctx: ActionContext = {}): Promise<{ key: string; info: KeyInfo; previous: KeyInfo }> {
    const overlapMs = options.overlapMs ?? 0;
    if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) throw new KeyOptionsError('overlap must be a non-negative number of milliseconds');
    const out = await this.store.transaction(async (tx) => {
      const now = Date.now();
      const old = await this.row(tx, id);
      if (old.canary) throw new KeyOptionsError(`key ${id} is a canary; create another canary instead`);
      if (statusOf(old, now) === 'revoked') throw new KeyOptionsError(`key ${id} is revoked; create a new key instead`);
      if (old.rotated_to) throw new KeyOptionsError(`key ${id} was already rotated to ${old.rotated_to}`);
      const ips = old.allowed_ips ? (JSON.parse(old.allowed_ips) as string[]) : null;
      const made = await this.insertKey(
        tx,
        {
          owner: old.owner,
          name: old.name,
          scopes: JSON.parse(old.scopes) as string[],
          env: old.prefix.endsWith('_test') ? 'test' : 'live',
          expiresAt: old.expires_at,
          allowedIps: ips,
          rateLimit: old.rate_limit !== null && old.rate_window_ms !== null ? { limit: old.rate_limit, windowMs: old.rate_window_ms } : null,
          quota: {
            total: old.quota_total,
            perPeriod: old.quota_period && old.quota_period_limit !== null ? { limit: old.quota_period_limit, period: old.quota_period as QuotaPeriod } : null,
          },
          leakPolicy: old.leak_policy as LeakPolicy,
        },
        ctx,
        old,
      );
      const endsAt = now + overlapMs;
      await tx.run('UPDATE warden_keys SET revoked_at = ?, revoke_reason = ?, rotated_to = ? WHERE id = ?', [endsAt, 'rotated', made.row.id, id]);
      await this.audit(tx, ctx, 'rotate', id, { successor: made.row.id, overlapMs });
      await this.audit(tx, ctx, 'create', made.row.id, { rotatedFrom: id });
      return { made, previous: await this.row(tx, id) };
    });
    await this.changed(id, out.previous.hash);
    await this.changed(out.made.row.id, out.made.row.hash);
    return { key: out.made.key, info: toInfo(out.made.row), previous: toInfo(out.previous) };
  }

  async auditLog(filter: { keyId?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
    const rows = filter.keyId
      ? await this.store.query<Record<string, unknown>>('SELECT * FROM warden_key_audit WHERE key_id = ? ORDER BY seq DESC LIMIT ?', [filter.keyId, limit])
      : await this.store.query<Record<string, unknown>>('SELECT * FROM warden_key_audit ORDER BY seq DESC LIMIT ?', [limit]);
    return rows.reverse().map((r) => ({
      seq: Number(r.seq),
      at: Number(r.at),
      actor: String(r.actor),
      source: (r.source as string | null) ?? null,
      action: String(r.action),
      keyId: (r.key_id as string | null) ?? null,
      details: JSON.parse(String(r.details)) as Record<string, unknown>,
    }));
  }

  /**
   * Handles reported tokens: each genuine key of this store is a true positive; the first report of
   * it from a given reporter and URL records the leak and applies the key's leak policy (or
   * `policy`, when the operator forces one). Reporters retry, so a repeat changes nothing.
   */
  async reportLeaks(reports: readonly LeakReport[], reporter: string, ctx: ActionContext = {}, policy?: LeakPolicy): Promise<LeakOutcome[]> {
    const outcomes: LeakOutcome[] = [];
    for (const report of reports) {
      const tokenHash = createHash('sha256').update(report.token).digest('hex');
      const hash = this.hashOf(report.token);
      const found = hash === null ? null : (await this.load(report.token, hash, Date.now())).key;
      if (!found) {
        outcomes.push({ tokenHash, label: 'false_positive', keyId: null, action: null });
        continue;
      }
      const row = found.row;
      const outcome: LeakOutcome = { tokenHash, label: 'true_positive', keyId: row.id, action: null };
      outcomes.push(outcome);
      if (row.canary) {
        // A reported canary is a trip like any use: the report's URL is where it was seen.
        this.canaries.trip(row.id, { route: String(report.url ?? '').slice(0, 2000), via: `leak-report:${reporter}` }, Date.now());
        continue;
      }
      const action = policy ?? (row.leak_policy as LeakPolicy);
      const url = String(report.url ?? '').slice(0, 2000);
      const event = await this.store.transaction(async (tx) => {
        const fresh = await tx.run('INSERT INTO warden_key_leaks (key_id, reporter, url, source, reported_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
          row.id,
          reporter,
          url,
          report.source ?? null,
          Date.now(),
        ]);
        if (fresh === 0) return null;
        await this.audit(tx, { ...ctx, actor: ctx.actor ?? reporter }, 'leak-reported', row.id, { reporter, url, source: report.source ?? null, action });
        return { keyId: row.id, owner: row.owner, reporter, url, source: report.source ?? null, action } satisfies LeakEvent;
      });
      if (!event) continue;
      outcome.action = action;
      const reason = `leaked: reported by ${reporter} at ${url}`;
      if (action === 'revoke') await this.revoke(row.id, reason, { ...ctx, actor: ctx.actor ?? reporter });
      else if (action === 'disable') await this.disable(row.id, reason, { ...ctx, actor: ctx.actor ?? reporter });
      this.onLeak?.(event);
    }
    return outcomes;
  }

  /** Flushes last-used times, returns unused quota, stops listening; closes the store if it opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.subscription?.close();
    await this.canaries.settled();
    await this.flushLastUsed().catch(() => undefined);
    await this.returnLeases().catch(() => undefined);
    if (this.ownsStore) await this.store.close();
  }
}
