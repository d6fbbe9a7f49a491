import type { Store } from '../store/index.js';
import type { CanaryInfo, CanaryPlanting, CanaryTrip, VerifyRequest } from './types.js';

/** The store topic a trip is announced on, so `warden serve` opens the incident and alerts at once. */
export const CANARY_TOPIC = 'canary';
/** A repeat from the same address and route inside this window is the same trip: a flood writes one row. */
const FOLD_MS = 10_000;
const MAX_RECENT = 10_000;
const MAX_FIELD = 500;

interface CanaryRow {
  key_id: string;
  planted_where: string;
  created_at: number;
  last_seen_at: number | null;
  last_seen_ip: string | null;
  uses: number;
  prefix: string;
  last4: string;
}

interface PlantingRow {
  key_id: string;
  target: string;
  locator: string;
  planted_at: number;
  checked_at: number | null;
  present: number | null;
}

interface TripRow {
  seq: number;
  key_id: string;
  at: number;
  ip: string | null;
  user_agent: string | null;
  route: string | null;
  via: string;
  planted_where: string;
}

const clip = (value: string | undefined): string | null => (value === undefined ? null : value.slice(0, MAX_FIELD));

/**
 * The canary records beside the key rows: where each was planted, the plantings a check can find again,
 * and every use. The verifier calls `trip` synchronously on its hot path; the write happens behind it.
 */
export class CanaryLedger {
  private readonly recent = new Map<string, number>();
  private readonly writing = new Set<Promise<unknown>>();

  constructor(private readonly store: Store) {}

  /** Records a use of a canary and announces it; a repeat inside the fold window is not written again. Never throws. */
  trip(keyId: string, request: VerifyRequest, now: number): void {
    const fold = `${keyId}\n${request.ip ?? ''}\n${request.route ?? ''}`;
    const last = this.recent.get(fold);
    if (last !== undefined && now - last < FOLD_MS) return;
    if (this.recent.size >= MAX_RECENT) this.recent.clear();
    this.recent.set(fold, now);
    const ip = clip(request.ip || undefined);
    const write = this.store
      .transaction(async (tx) => {
        await tx.run('INSERT INTO warden_canary_trips (key_id, at, ip, user_agent, route, via) VALUES (?, ?, ?, ?, ?, ?)', [
          keyId,
          now,
          ip,
          clip(request.userAgent),
          clip(request.route),
          request.via ?? 'library',
        ]);
        await tx.run('UPDATE warden_canaries SET uses = uses + 1 WHERE key_id = ?', [keyId]);
        // Writes in flight commit in any order: the newest use is the last seen.
        await tx.run('UPDATE warden_canaries SET last_seen_at = ?, last_seen_ip = ? WHERE key_id = ? AND (last_seen_at IS NULL OR last_seen_at <= ?)', [
          now,
          ip,
          keyId,
          now,
        ]);
      })
      .then(() => this.store.publish(CANARY_TOPIC, keyId))
      // A trip that could not be written is retried by the next use once the fold window passes.
      .catch(() => this.recent.delete(fold))
      .finally(() => this.writing.delete(write));
    this.writing.add(write);
  }

  /** Resolves when every trip recorded so far is written (the key store waits for it on close). */
  async settled(): Promise<void> {
    while (this.writing.size) await Promise.all([...this.writing]);
  }

  async list(): Promise<CanaryInfo[]> {
    return this.read();
  }

  /** One canary, or undefined when there is none with this id. */
  async get(keyId: string): Promise<CanaryInfo | undefined> {
    return (await this.read(keyId))[0];
  }

  private async read(keyId?: string): Promise<CanaryInfo[]> {
    const only = keyId === undefined ? '' : ' WHERE c.key_id = ?';
    const params = keyId === undefined ? [] : [keyId];
    const rows = await this.store.query<CanaryRow>(
      `SELECT c.*, k.prefix, k.last4 FROM warden_canaries c JOIN warden_keys k ON k.id = c.key_id${only} ORDER BY c.created_at, c.key_id`,
      params,
    );
    const plantings = await this.store.query<PlantingRow>(
      `SELECT * FROM warden_canary_plantings${keyId === undefined ? '' : ' WHERE key_id = ?'} ORDER BY planted_at, target`,
      params,
    );
    return rows.map((r) => ({
      id: r.key_id,
      display: `${r.prefix}_…${r.last4}`,
      where: r.planted_where,
      createdAt: Number(r.created_at),
      lastSeenAt: r.last_seen_at === null ? null : Number(r.last_seen_at),
      lastSeenIp: r.last_seen_ip,
      uses: Number(r.uses),
      plantings: plantings.filter((p) => p.key_id === r.key_id).map(toPlanting),
    }));
  }

  /** Where a canary was planted and how to find it again (the locator is the planter's own, e.g. a table and column). */
  async plantings(keyId?: string): Promise<Array<CanaryPlanting & { keyId: string; locator: string }>> {
    const rows = keyId
      ? await this.store.query<PlantingRow>('SELECT * FROM warden_canary_plantings WHERE key_id = ? ORDER BY planted_at', [keyId])
      : await this.store.query<PlantingRow>('SELECT * FROM warden_canary_plantings ORDER BY planted_at');
    return rows.map((r) => ({ ...toPlanting(r), keyId: r.key_id, locator: r.locator }));
  }

  async addPlanting(keyId: string, target: string, locator: string, now = Date.now()): Promise<void> {
    await this.store.run(
      'INSERT INTO warden_canary_plantings (key_id, target, locator, planted_at) VALUES (?, ?, ?, ?) ON CONFLICT (key_id, target) DO UPDATE SET locator = excluded.locator, planted_at = excluded.planted_at, checked_at = NULL, present = NULL',
      [keyId, target, locator, now],
    );
  }

  async markChecked(keyId: string, target: string, present: boolean, now = Date.now()): Promise<void> {
    await this.store.run('UPDATE warden_canary_plantings SET checked_at = ?, present = ? WHERE key_id = ? AND target = ?', [
      now,
      present ? 1 : 0,
      keyId,
      target,
    ]);
  }

  /** Trips nobody has acted on yet, oldest first. */
  async pendingTrips(): Promise<CanaryTrip[]> {
    const rows = await this.store.query<TripRow>(
      'SELECT t.*, c.planted_where FROM warden_canary_trips t JOIN warden_canaries c ON c.key_id = t.key_id WHERE t.handled_at IS NULL ORDER BY t.seq',
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      keyId: r.key_id,
      where: r.planted_where,
      at: Number(r.at),
      ip: r.ip,
      userAgent: r.user_agent,
      route: r.route,
      via: r.via,
    }));
  }

  /** Claims a trip for handling; false when another process claimed it first. */
  async claimTrip(seq: number, now = Date.now()): Promise<boolean> {
    return (await this.store.run('UPDATE warden_canary_trips SET handled_at = ? WHERE seq = ? AND handled_at IS NULL', [now, seq])) > 0;
  }
}

function toPlanting(r: PlantingRow): CanaryPlanting {
  return {
    target: r.target,
    plantedAt: Number(r.planted_at),
    checkedAt: r.checked_at === null ? null : Number(r.checked_at),
    present: r.present === null ? null : r.present === 1 || (r.present as unknown) === true,
  };
}
