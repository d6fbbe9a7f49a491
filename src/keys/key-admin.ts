import { userInfo } from 'node:os';
import { WardenError } from '../errors.js';
import { generateKey, KEY_ENVIRONMENTS, newKeyId } from './format.js';
import { invalidRange } from './ip-ranges.js';
import type { KeyRecords, KeyRecordStore, KeyRow, KeySettings } from './key-records.js';
import { periodStart, QUOTA_PERIODS, type QuotaPeriod } from './limits.js';
import { isValidScope } from './scopes.js';
import { hashKey, type KeySecrets } from './secret.js';
import {
  LEAK_POLICIES,
  type ActionContext,
  type AuditEntry,
  type CreateCanaryOptions,
  type CreateKeyOptions,
  type KeyChanges,
  type KeyInfo,
  type KeyStatus,
  type LeakPolicy,
} from './types.js';
import type { KeyChangeSink } from './verifier.js';

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

function defaultActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'library';
  }
}

/** Appends to the key audit log: who (default: this OS user), from where, did what to which key. */
export function audit(tx: KeyRecords, ctx: ActionContext, action: string, keyId: string | null, details: Record<string, unknown>): Promise<void> {
  return tx.appendAudit({ at: Date.now(), actor: ctx.actor ?? defaultActor(), source: ctx.source ?? null, action, keyId, details });
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

/** Checks options and turns them into column values; throws KeyOptionsError naming the field. */
function settingsFor(opts: KeyChanges): KeySettings {
  const cols: KeySettings = {};
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

async function rowOf(tx: KeyRecords, id: string): Promise<KeyRow> {
  const row = await tx.byId(id);
  if (!row) throw new KeyNotFoundError(id);
  return row;
}

/**
 * Issuing and managing keys: create, list, update, revoke, disable, rotate, and the append-only
 * audit log every change writes to in the same transaction. Each change is passed to `cache` (the
 * verifier) once committed. Only a keyed hash of each key is stored.
 */
export class KeyAdmin {
  constructor(
    private readonly records: KeyRecordStore,
    private readonly cache: KeyChangeSink,
    private readonly prefix: string,
    private readonly secrets: KeySecrets,
  ) {}

  private async insertKey(tx: KeyRecords, opts: CreateKeyOptions, ctx: ActionContext, inherit?: KeyRow, canary = false): Promise<{ key: string; row: KeyRow }> {
    if (!opts.owner?.trim() || opts.owner.length > 200) throw new KeyOptionsError('owner must be 1-200 characters');
    const env = opts.env ?? 'live';
    if (!KEY_ENVIRONMENTS.includes(env)) throw new KeyOptionsError(`environment must be one of ${KEY_ENVIRONMENTS.join(', ')}`);
    const settings = settingsFor({ leakPolicy: 'revoke', ...opts });
    const key = generateKey(this.prefix, env);
    const id = newKeyId();
    await tx.insert({
      id,
      hash: hashKey(key, this.secrets.current),
      hash_version: this.secrets.current.version,
      prefix: `${this.prefix}_${env}`,
      last4: key.slice(-4),
      owner: opts.owner,
      ...settings,
      quota_used: inherit?.quota_used ?? 0,
      quota_period_start: inherit?.quota_period_start ?? 0,
      quota_period_used: inherit?.quota_period_used ?? 0,
      created_at: Date.now(),
      created_by: ctx.actor ?? defaultActor(),
      canary: canary ? 1 : 0,
    });
    return { key, row: await rowOf(tx, id) };
  }

  /** Issues a key. The returned `key` is the only time it exists outside its holder's hands. */
  async create(opts: CreateKeyOptions, ctx: ActionContext = {}): Promise<{ key: string; info: KeyInfo }> {
    const { key, row } = await this.records.transaction(async (tx) => {
      const made = await this.insertKey(tx, opts, ctx);
      await audit(tx, ctx, 'create', made.row.id, { owner: made.row.owner, name: made.row.name, scopes: JSON.parse(made.row.scopes) as unknown });
      return made;
    });
    await this.cache.changed(row.id, row.hash);
    return { key, info: toInfo(row) };
  }

  /**
   * Issues a canary: a key in the live format that no client holds, refused like a revoked key, whose every
   * use is recorded as a trip. The returned `key` is what gets planted; it is shown this once.
   */
  async createCanary(opts: CreateCanaryOptions, ctx: ActionContext = {}): Promise<{ key: string; id: string }> {
    const where = opts.where.trim();
    if (!where || where.length > 500) throw new KeyOptionsError('where must be 1-500 characters: the place the canary is planted');
    const keyOptions: CreateKeyOptions = {
      owner: opts.owner ?? 'svc-analytics',
      name: opts.name ?? 'reporting',
      scopes: opts.scopes ?? ['clickhouse:read'],
      env: opts.env ?? 'live',
    };
    const { key, row } = await this.records.transaction(async (tx) => {
      const made = await this.insertKey(tx, keyOptions, ctx, undefined, true);
      await tx.recordCanary(made.row.id, where, made.row.created_at);
      await audit(tx, ctx, 'canary-create', made.row.id, { where });
      return made;
    });
    await this.cache.changed(row.id, row.hash);
    return { key, id: row.id };
  }

  async list(filter: { owner?: string } = {}): Promise<KeyInfo[]> {
    return (await this.records.list(filter.owner || undefined)).map((r) => toInfo(r));
  }

  async show(id: string): Promise<KeyInfo> {
    return toInfo(await rowOf(this.records, id));
  }

  async update(id: string, changes: KeyChanges, ctx: ActionContext = {}): Promise<KeyInfo> {
    const settings = settingsFor(changes);
    if (Object.keys(settings).length === 0) throw new KeyOptionsError('nothing to change');
    const row = await this.records.transaction(async (tx) => {
      await rowOf(tx, id);
      await tx.update(id, settings);
      await audit(tx, ctx, 'update', id, { changed: changes });
      return rowOf(tx, id);
    });
    this.cache.forgetRate(id);
    await this.cache.changed(id, row.hash);
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
    const row = await this.records.transaction(async (tx) => {
      const now = Date.now();
      await rowOf(tx, id);
      if (action === 'revoke') await tx.revoke(id, now, details.reason ?? null);
      else if (action === 'disable') await tx.disable(id, now);
      else await tx.enable(id);
      await audit(tx, ctx, action, id, details);
      return rowOf(tx, id);
    });
    await this.cache.changed(id, row.hash);
    return toInfo(row);
  }

  /**
   * Issues a successor with the same owner, scopes, limits and quota usage; the old key keeps
   * working for `overlapMs`, then stops by itself (no timer: verification compares times).
   */
  async rotate(id: string, options: { overlapMs?: number } = {}, ctx: ActionContext = {}): Promise<{ key: string; info: KeyInfo; previous: KeyInfo }> {
    const overlapMs = options.overlapMs ?? 0;
    if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) throw new KeyOptionsError('overlap must be a non-negative number of milliseconds');
    const out = await this.records.transaction(async (tx) => {
      const now = Date.now();
      const old = await rowOf(tx, id);
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
      await tx.markRotated(id, now + overlapMs, made.row.id);
      await audit(tx, ctx, 'rotate', id, { successor: made.row.id, overlapMs });
      await audit(tx, ctx, 'create', made.row.id, { rotatedFrom: id });
      return { made, previous: await rowOf(tx, id) };
    });
    await this.cache.changed(id, out.previous.hash);
    await this.cache.changed(out.made.row.id, out.made.row.hash);
    return { key: out.made.key, info: toInfo(out.made.row), previous: toInfo(out.previous) };
  }

  auditLog(filter: { keyId?: string; limit?: number } = {}): Promise<AuditEntry[]> {
    return this.records.auditLog(filter.keyId || undefined, Math.min(Math.max(filter.limit ?? 100, 1), 10_000));
  }
}
