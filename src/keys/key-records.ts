// The store contract the key verifier, administration and leak intake share: whole key rows in and
// out, so a new kind of key (a canary, say) is a column on KeyRow and a migration, not new methods.
import type { SqlValue, Store, StoreQueries, Subscription } from '../store/index.js';
import { KEY_MIGRATIONS } from './schema.js';
import type { AuditEntry } from './types.js';

/** One row of `warden_keys`, as both dialects return it. */
export interface KeyRow {
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
  /** 1 for a canary: a key no client holds, refused like a revoked key, every use a trip. */
  canary: number;
}

/** The columns an issued key is inserted with; the rest take their defaults. */
export type NewKeyRow = Pick<KeyRow, 'id' | 'hash' | 'hash_version' | 'prefix' | 'last4' | 'owner' | 'created_at' | 'created_by'> & Partial<KeyRow>;

/** The columns an update may set (what `KeyChanges` turns into). */
export type KeySettings = Partial<
  Pick<
    KeyRow,
    'name' | 'scopes' | 'expires_at' | 'allowed_ips' | 'rate_limit' | 'rate_window_ms' | 'quota_total' | 'quota_period' | 'quota_period_limit' | 'leak_policy'
  >
>;

export interface LeakRecord {
  keyId: string;
  reporter: string;
  url: string;
  source: string | null;
  reportedAt: number;
}

/** Reads and writes of the key tables; inside `KeyRecordStore.transaction` they are atomic. */
export interface KeyRecords {
  byId(id: string): Promise<KeyRow | undefined>;
  /** The key stored under any of these hashes (one per secret version). */
  byHashes(hashes: readonly string[]): Promise<KeyRow | undefined>;
  /** Keys clients hold: canaries are listed by the canary ledger. */
  list(owner?: string): Promise<KeyRow[]>;
  insert(row: NewKeyRow): Promise<void>;
  /** Where a canary key was planted, beside its row. */
  recordCanary(keyId: string, where: string, at: number): Promise<void>;
  update(id: string, settings: KeySettings): Promise<void>;
  /** Moves the stored hash to the current secret version. */
  rehash(id: string, hash: string, hashVersion: number): Promise<void>;
  /** Ends the key at `at` unless it already ends sooner. */
  revoke(id: string, at: number, reason: string | null): Promise<void>;
  /** Ends the key at `at` (the end of a rotation's overlap) and names its successor. */
  markRotated(id: string, at: number, successor: string): Promise<void>;
  disable(id: string, at: number): Promise<void>;
  enable(id: string): Promise<void>;
  /**
   * Counts `units` against the key's total and per-period quota (resetting the period count when
   * `periodStart` is a new period); false, counting nothing, when either would be exceeded.
   */
  takeQuota(id: string, units: number, periodStart: number): Promise<boolean>;
  /** Gives back units taken in the period starting `periodStart` (a later period has already reset). */
  returnQuota(id: string, units: number, periodStart: number): Promise<void>;
  /** Last-used times and addresses; a time only moves forward. */
  recordUses(uses: ReadonlyArray<readonly [id: string, use: { at: number; ip: string | null }]>): Promise<void>;
  appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<void>;
  /** The newest `limit` entries (of one key), oldest first. */
  auditLog(keyId: string | undefined, limit: number): Promise<AuditEntry[]>;
  /** False when this (key, reporter, url) was reported before. */
  recordLeak(leak: LeakRecord): Promise<boolean>;
}

/** KeyRecords on a shared store, with transactions and change announcements between processes. */
export interface KeyRecordStore extends KeyRecords {
  readonly store: Store;
  transaction<T>(fn: (tx: KeyRecords) => Promise<T>): Promise<T>;
  /** Tells every process sharing the store that this key changed. */
  announce(id: string, hash: string): Promise<void>;
  /** Hears other processes' announcements (`changed`), and whether the channel is up (`state`). */
  listen(changed: (id: string, hash: string) => void, state: (up: boolean) => void): Promise<Subscription>;
}

const TOPIC = 'keys';

class SqlKeyRecords implements KeyRecords {
  constructor(protected readonly q: StoreQueries) {}

  async byId(id: string): Promise<KeyRow | undefined> {
    const [row] = await this.q.query<KeyRow>('SELECT * FROM warden_keys WHERE id = ?', [id]);
    return row;
  }

  async byHashes(hashes: readonly string[]): Promise<KeyRow | undefined> {
    const [row] = await this.q.query<KeyRow>(`SELECT * FROM warden_keys WHERE hash IN (${hashes.map(() => '?').join(', ')})`, hashes);
    return row;
  }

  list(owner?: string): Promise<KeyRow[]> {
    return owner
      ? this.q.query<KeyRow>('SELECT * FROM warden_keys WHERE owner = ? AND canary = 0 ORDER BY created_at, id', [owner])
      : this.q.query<KeyRow>('SELECT * FROM warden_keys WHERE canary = 0 ORDER BY created_at, id');
  }

  async recordCanary(keyId: string, where: string, at: number): Promise<void> {
    await this.q.run('INSERT INTO warden_canaries (key_id, planted_where, created_at) VALUES (?, ?, ?)', [keyId, where, at]);
  }

  async insert(row: NewKeyRow): Promise<void> {
    const names = Object.keys(row);
    await this.q.run(`INSERT INTO warden_keys (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`, Object.values(row) as SqlValue[]);
  }

  async update(id: string, settings: KeySettings): Promise<void> {
    const names = Object.keys(settings);
    await this.q.run(`UPDATE warden_keys SET ${names.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`, [...(Object.values(settings) as SqlValue[]), id]);
  }

  async rehash(id: string, hash: string, hashVersion: number): Promise<void> {
    await this.q.run('UPDATE warden_keys SET hash = ?, hash_version = ? WHERE id = ?', [hash, hashVersion, id]);
  }

  async revoke(id: string, at: number, reason: string | null): Promise<void> {
    await this.q.run('UPDATE warden_keys SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND (revoked_at IS NULL OR revoked_at > ?)', [at, reason, id, at]);
  }

  async markRotated(id: string, at: number, successor: string): Promise<void> {
    await this.q.run('UPDATE warden_keys SET revoked_at = ?, revoke_reason = ?, rotated_to = ? WHERE id = ?', [at, 'rotated', successor, id]);
  }

  async disable(id: string, at: number): Promise<void> {
    await this.q.run('UPDATE warden_keys SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL', [at, id]);
  }

  async enable(id: string): Promise<void> {
    await this.q.run('UPDATE warden_keys SET disabled_at = NULL WHERE id = ?', [id]);
  }

  async takeQuota(id: string, units: number, periodStart: number): Promise<boolean> {
    const changed = await this.q.run(
      `UPDATE warden_keys SET
         quota_used = quota_used + ?,
         quota_period_used = (CASE WHEN quota_period_start = ? THEN quota_period_used ELSE 0 END) + ?,
         quota_period_start = ?
       WHERE id = ?
         AND (quota_total IS NULL OR quota_used + ? <= quota_total)
         AND (quota_period_limit IS NULL OR (CASE WHEN quota_period_start = ? THEN quota_period_used ELSE 0 END) + ? <= quota_period_limit)`,
      [units, periodStart, units, periodStart, id, units, periodStart, units],
    );
    return changed === 1;
  }

  async returnQuota(id: string, units: number, periodStart: number): Promise<void> {
    await this.q.run(
      `UPDATE warden_keys SET quota_used = quota_used - ?,
         quota_period_used = CASE WHEN quota_period_start = ? THEN quota_period_used - ? ELSE quota_period_used END
       WHERE id = ?`,
      [units, periodStart, units, id],
    );
  }

  async recordUses(uses: ReadonlyArray<readonly [string, { at: number; ip: string | null }]>): Promise<void> {
    for (const [id, use] of uses) {
      await this.q.run('UPDATE warden_keys SET last_used_at = ?, last_used_ip = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)', [
        use.at,
        use.ip,
        id,
        use.at,
      ]);
    }
  }

  async appendAudit(entry: Omit<AuditEntry, 'seq'>): Promise<void> {
    await this.q.run('INSERT INTO warden_key_audit (at, actor, source, action, key_id, details) VALUES (?, ?, ?, ?, ?, ?)', [
      entry.at,
      entry.actor,
      entry.source,
      entry.action,
      entry.keyId,
      JSON.stringify(entry.details),
    ]);
  }

  async auditLog(keyId: string | undefined, limit: number): Promise<AuditEntry[]> {
    const rows = keyId
      ? await this.q.query<Record<string, unknown>>('SELECT * FROM warden_key_audit WHERE key_id = ? ORDER BY seq DESC LIMIT ?', [keyId, limit])
      : await this.q.query<Record<string, unknown>>('SELECT * FROM warden_key_audit ORDER BY seq DESC LIMIT ?', [limit]);
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

  async recordLeak(leak: LeakRecord): Promise<boolean> {
    const fresh = await this.q.run('INSERT INTO warden_key_leaks (key_id, reporter, url, source, reported_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING', [
      leak.keyId,
      leak.reporter,
      leak.url,
      leak.source,
      leak.reportedAt,
    ]);
    return fresh !== 0;
  }
}

class SqlKeyRecordStore extends SqlKeyRecords implements KeyRecordStore {
  constructor(readonly store: Store) {
    super(store);
  }

  transaction<T>(fn: (tx: KeyRecords) => Promise<T>): Promise<T> {
    return this.store.transaction((tx) => fn(new SqlKeyRecords(tx)));
  }

  async announce(id: string, hash: string): Promise<void> {
    await this.store.publish(TOPIC, `${id} ${hash}`);
  }

  listen(changed: (id: string, hash: string) => void, state: (up: boolean) => void): Promise<Subscription> {
    return this.store.subscribe(TOPIC, {
      onMessage: (payload) => {
        const [id = '', hash = ''] = payload.split(' ');
        changed(id, hash);
      },
      onState: state,
    });
  }
}

/**
 * The key tables in a Warden store, migrated: one SQL implementation for SQLite and PostgreSQL alike,
 * since `Store` hides the dialect (placeholders, change notifications).
 */
export async function openKeyRecords(store: Store): Promise<KeyRecordStore> {
  await store.migrate('keys', KEY_MIGRATIONS);
  return new SqlKeyRecordStore(store);
}
