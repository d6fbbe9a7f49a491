/**
 * What the daemon remembers: runs, findings with first/last seen, each finding's timeline, and
 * acknowledgements. `completeRun` diffs a run against what was open before and writes it in one
 * transaction, in batches, so a run of 10,000 findings is a handful of statements.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Finding } from '../scan/index.js';
import { SEVERITIES, type Severity } from '../severity.js';
import type { SqlValue, Store, StoreQueries } from '../store/index.js';
import { transitionRun, type KnownFinding, type Sighting } from './finding-transitions.js';
import { SERVE_MIGRATIONS } from './schema.js';

/** The one scale (src/severity.ts), under the name warden/serve has always exported it. */
export { SEVERITIES as SEVERITY_ORDER };
/** Worst first in SQL: the scale's order as a CASE over the stored severity. */
const SQL_WORST_FIRST = `CASE f.severity ${[...SEVERITIES]
  .reverse()
  .map((s, i) => `WHEN '${s}' THEN ${i}`)
  .join(' ')} ELSE ${SEVERITIES.length} END`;

/** `partial`: a distributed run whose deadline passed with some shards in; nothing was resolved by it. */
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'interrupted';
export type FindingState = 'open' | 'resolved';
export type EventKind = 'opened' | 'reopened' | 'changed' | 'escalated' | 'resolved' | 'flapping' | 'stable' | 'acknowledged' | 'suppressed' | 'unacknowledged';
export type AlertKind = 'new' | 'reopened' | 'escalated' | 'flapping' | 'canary-tripped' | 'canary-missing';

export interface RunRecord {
  id: string;
  inventory: string;
  status: RunStatus;
  trigger: string;
  startedAt: number;
  finishedAt: number | null;
  endpoints: number | null;
  openPorts: number | null;
  findings: number | null;
  newCount: number | null;
  changedCount: number | null;
  resolvedCount: number | null;
  unconfirmedCount: number | null;
  /** Open findings across all inventories by severity when the run finished. */
  openAfter: Record<string, number> | null;
  error: string | null;
  /** Shards enqueued for the run in distributed mode; null for a run scanned in one process. */
  shards: number | null;
}

/** What one worker found in one shard of a distributed run. */
export interface ShardResult {
  runId: string;
  index: number;
  worker: string;
  /** 1 for the first delivery of the shard, more when it was redelivered. */
  delivery: number;
  endpoints: number;
  openPorts: number;
  /** Evidence already redacted by the worker. */
  findings: Finding[];
  completedAt: number;
}

export interface Acknowledgement {
  kind: 'acknowledge' | 'suppress';
  reason: string;
  expiresAt: number | null;
  createdAt: number;
  createdBy: string;
}

export interface StoredFinding {
  inventory: string;
  id: string;
  service: string;
  host: string;
  port: number;
  probe: string;
  title: string;
  auth: string;
  severity: Severity;
  evidence: Finding['evidence'];
  reproduce: string | null;
  remediation: string;
  state: FindingState;
  firstSeen: number;
  lastSeen: number;
  openedAt: number;
  resolvedAt: number | null;
  flapping: boolean;
  acknowledgement: Acknowledgement | null;
}

export interface FindingEvent {
  seq: number;
  runId: string | null;
  at: number;
  kind: EventKind;
  severity: Severity | null;
  detail: Record<string, unknown> | null;
}

export interface Alert {
  kind: AlertKind;
  inventory: string;
  finding: Pick<StoredFinding, 'id' | 'service' | 'host' | 'port' | 'title' | 'auth' | 'severity' | 'firstSeen' | 'lastSeen'>;
  previousSeverity?: Severity;
  /** A canary key's use: who used it, how, and where it had been planted. */
  canary?: { keyId: string; plantedIn: string; sourceAddress: string | null; userAgent: string | null; route: string | null; via: string; at: string };
}

export interface RunOutcome {
  run: RunRecord;
  alerts: Alert[];
}

interface RunRow {
  id: string;
  inventory: string;
  status: RunStatus;
  trigger_kind: string;
  started_at: number;
  finished_at: number | null;
  endpoints: number | null;
  open_ports: number | null;
  findings: number | null;
  new_count: number | null;
  changed_count: number | null;
  resolved_count: number | null;
  unconfirmed_count: number | null;
  open_after: string | null;
  error: string | null;
  shards: number | null;
}

interface ShardRow {
  run_id: string;
  shard_index: number;
  worker: string;
  delivery: number;
  endpoints: number;
  open_ports: number;
  findings: string;
  completed_at: number;
}

interface FindingRow {
  inventory: string;
  id: string;
  service: string;
  host: string;
  port: number;
  probe: string;
  title: string;
  auth: string;
  severity: Severity;
  evidence: string;
  evidence_hash: string;
  reproduce: string | null;
  remediation: string;
  state: FindingState;
  first_seen: number;
  last_seen: number;
  opened_at: number;
  resolved_at: number | null;
  flapping_since: number | null;
  ack_kind?: 'acknowledge' | 'suppress' | null;
  ack_reason?: string | null;
  ack_expires_at?: number | null;
  ack_created_at?: number | null;
  ack_created_by?: string | null;
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    inventory: r.inventory,
    status: r.status,
    trigger: r.trigger_kind,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    endpoints: r.endpoints,
    openPorts: r.open_ports,
    findings: r.findings,
    newCount: r.new_count,
    changedCount: r.changed_count,
    resolvedCount: r.resolved_count,
    unconfirmedCount: r.unconfirmed_count,
    openAfter: r.open_after ? (JSON.parse(r.open_after) as Record<string, number>) : null,
    error: r.error,
    shards: r.shards ?? null,
  };
}

function toFinding(r: FindingRow, now: number): StoredFinding {
  const ackLive = r.ack_kind && (r.ack_expires_at === null || r.ack_expires_at === undefined || r.ack_expires_at > now);
  return {
    inventory: r.inventory,
    id: r.id,
    service: r.service,
    host: r.host,
    port: r.port,
    probe: r.probe,
    title: r.title,
    auth: r.auth,
    severity: r.severity,
    evidence: JSON.parse(r.evidence) as Finding['evidence'],
    reproduce: r.reproduce,
    remediation: r.remediation,
    state: r.state,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    openedAt: r.opened_at,
    resolvedAt: r.resolved_at,
    flapping: r.flapping_since !== null,
    acknowledgement: ackLive
      ? { kind: r.ack_kind!, reason: r.ack_reason!, expiresAt: r.ack_expires_at ?? null, createdAt: r.ack_created_at!, createdBy: r.ack_created_by! }
      : null,
  };
}

const FINDING_SELECT = `SELECT f.*, a.kind AS ack_kind, a.reason AS ack_reason, a.expires_at AS ack_expires_at, a.created_at AS ack_created_at, a.created_by AS ack_created_by
FROM serve_findings f LEFT JOIN serve_acknowledgements a ON a.inventory = f.inventory AND a.finding_id = f.id`;

const FINDING_COLUMNS = [
  'inventory',
  'id',
  'service',
  'host',
  'port',
  'probe',
  'title',
  'auth',
  'severity',
  'evidence',
  'evidence_hash',
  'reproduce',
  'remediation',
  'state',
  'first_seen',
  'last_seen',
  'opened_at',
  'resolved_at',
  'flapping_since',
  'last_run',
] as const;
const EVENT_COLUMNS = ['inventory', 'finding_id', 'run_id', 'at', 'kind', 'severity', 'detail'] as const;
/** Rows per multi-row statement: well under SQLite's and PostgreSQL's parameter limits. */
const BATCH_ROWS = 400;

async function insertBatched(tx: StoreQueries, table: string, columns: readonly string[], rows: SqlValue[][], conflict = ''): Promise<void> {
  for (let i = 0; i < rows.length; i += BATCH_ROWS) {
    const chunk = rows.slice(i, i + BATCH_ROWS);
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    await tx.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')}${conflict}`, chunk.flat());
  }
}

const UPSERT_FINDING = ` ON CONFLICT (inventory, id) DO UPDATE SET ${FINDING_COLUMNS.filter((c) => c !== 'inventory' && c !== 'id')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ')}`;

/** A stored finding as the state machine sees it; an acknowledgement past its expiry counts as none. */
function knownFinding(row: FindingRow, now: number): KnownFinding {
  const ack = row.ack_kind && (row.ack_expires_at === null || (row.ack_expires_at ?? 0) > now) ? row.ack_kind : null;
  return {
    id: row.id,
    state: row.state,
    severity: row.severity,
    auth: row.auth,
    evidenceHash: row.evidence_hash,
    firstSeen: row.first_seen,
    openedAt: row.opened_at,
    resolvedAt: row.resolved_at,
    flappingSince: row.flapping_since,
    ack,
  };
}

/** Evidence as stored and shown: every string passed through `redact`, so a secret a probe let slip never lands in the store. */
export function redactEvidence<T>(value: T, redact: (text: string) => string): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactEvidence(v, redact)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactEvidence(v, redact)])) as T;
  return value;
}

export interface CompleteRunOptions {
  findings: readonly Finding[];
  stats: { endpoints: number; open: number };
  /** Findings dropped because a re-check did not see them again. */
  unconfirmed: number;
  flapWindowMs: number;
  redact: (text: string) => string;
  /**
   * Set when some shards of a distributed run never came in: the findings seen are recorded, but nothing
   * is resolved (absence from an incomplete run proves nothing) and the run is recorded `partial`.
   */
  partial?: string;
  now?: number;
}

export class ServeHistory {
  /** Last start time given to each inventory's run (see claimRun). */
  private readonly lastClaim = new Map<string, number>();

  private constructor(readonly store: Store) {}

  static async open(store: Store): Promise<ServeHistory> {
    await store.migrate('serve', SERVE_MIGRATIONS);
    return new ServeHistory(store);
  }

  /** Starts a run unless one of this inventory is already running anywhere; then answers undefined. */
  async claimRun(inventory: string, trigger: string, owner: string, clock = Date.now()): Promise<RunRecord | undefined> {
    // Runs are ordered by start time: two started in the same millisecond (a run that fails at once,
    // then a retry) must still sort in the order they started.
    const now = Math.max(clock, (this.lastClaim.get(inventory) ?? 0) + 1);
    this.lastClaim.set(inventory, now);
    const id = `run_${now.toString(36)}_${randomUUID().slice(0, 8)}`;
    try {
      await this.store.run('INSERT INTO serve_runs (id, inventory, status, trigger_kind, owner, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id,
        inventory,
        'running',
        trigger,
        owner,
        now,
        now,
      ]);
    } catch (err) {
      if (/unique|duplicate/i.test((err as Error).message)) return undefined;
      throw err;
    }
    return (await this.run(id))!;
  }

  async heartbeat(runId: string, now = Date.now()): Promise<void> {
    await this.store.run("UPDATE serve_runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'", [now, runId]);
  }

  async failRun(runId: string, error: string, status: 'failed' | 'interrupted' = 'failed', now = Date.now()): Promise<void> {
    await this.store.run("UPDATE serve_runs SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = 'running'", [
      status,
      now,
      error.slice(0, 2000),
      runId,
    ]);
  }

  /**
   * Marks runs no live process is doing as interrupted: those of `deadOwner` (a crashed process on
   * this machine) and any whose heartbeat is older than `staleBefore`. Answers how many.
   */
  async markInterrupted(isDeadOwner: (owner: string) => boolean, staleBefore: number, now = Date.now()): Promise<number> {
    const running = await this.store.query<{ id: string; owner: string; heartbeat_at: number }>(
      "SELECT id, owner, heartbeat_at FROM serve_runs WHERE status = 'running'",
    );
    let n = 0;
    for (const r of running) {
      if (!isDeadOwner(r.owner) && r.heartbeat_at >= staleBefore) continue;
      n += await this.store.run("UPDATE serve_runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ? AND status = 'running'", [
        now,
        'the process running it stopped before it finished',
        r.id,
      ]);
    }
    return n;
  }

  /** Ids of findings open now in an inventory (to know which of a run's findings are new). */
  async openIds(inventory: string): Promise<Set<string>> {
    const rows = await this.store.query<{ id: string }>("SELECT id FROM serve_findings WHERE inventory = ? AND state = 'open'", [inventory]);
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Diffs the run's findings against the inventory's stored ones (`transitionRun`) and records
   * everything atomically.
   */
  async completeRun(runId: string, inventory: string, options: CompleteRunOptions): Promise<RunOutcome> {
    const now = options.now ?? Date.now();
    const sightings = new Map<string, Sighting & { evidence: string }>();
    for (const finding of options.findings) {
      if (sightings.has(finding.id)) continue;
      const evidence = JSON.stringify(redactEvidence(finding.evidence, options.redact));
      sightings.set(finding.id, { finding, evidence, evidenceHash: createHash('sha256').update(evidence).digest('hex').slice(0, 32) });
    }
    const changes = await this.store.transaction(async (tx) => {
      const known = new Map<string, KnownFinding>();
      for (const row of await tx.query<FindingRow>(`${FINDING_SELECT} WHERE f.inventory = ?`, [inventory])) known.set(row.id, knownFinding(row, now));
      const t = transitionRun(inventory, [...sightings.values()], known, { now, flapWindowMs: options.flapWindowMs, partial: options.partial !== undefined });
      const upserts = t.open.map(({ finding: f, evidenceHash, firstSeen, openedAt, resolvedAt, flappingSince }): SqlValue[] => {
        const evidence = sightings.get(f.id)!.evidence;
        const reproduce = f.reproduce ? options.redact(f.reproduce) : null;
        return [
          inventory,
          f.id,
          f.service,
          f.host,
          f.port,
          f.probe,
          f.title,
          f.auth,
          f.severity,
          evidence,
          evidenceHash,
          reproduce,
          f.remediation,
          'open',
          firstSeen,
          now,
          openedAt,
          resolvedAt,
          flappingSince,
          runId,
        ];
      });
      await insertBatched(tx, 'serve_findings', FINDING_COLUMNS, upserts, UPSERT_FINDING);
      for (let i = 0; i < t.resolved.length; i += BATCH_ROWS) {
        const chunk = t.resolved.slice(i, i + BATCH_ROWS);
        await tx.run(
          `UPDATE serve_findings SET state = 'resolved', resolved_at = ?, last_run = ? WHERE inventory = ? AND id IN (${chunk.map(() => '?').join(', ')})`,
          [now, runId, inventory, ...chunk],
        );
      }
      const events = t.events.map((e): SqlValue[] => [inventory, e.findingId, runId, now, e.kind, e.severity, e.detail ? JSON.stringify(e.detail) : null]);
      await insertBatched(tx, 'serve_finding_events', EVENT_COLUMNS, events);
      const openAfter = await openCountsBySeverity(tx, now);
      await tx.run(
        'UPDATE serve_runs SET status = ?, finished_at = ?, endpoints = ?, open_ports = ?, findings = ?, new_count = ?, changed_count = ?, resolved_count = ?, unconfirmed_count = ?, open_after = ?, error = ? WHERE id = ?',
        [
          options.partial === undefined ? 'succeeded' : 'partial',
          now,
          options.stats.endpoints,
          options.stats.open,
          sightings.size,
          t.counts.new,
          t.counts.changed,
          t.counts.resolved,
          options.unconfirmed,
          JSON.stringify(openAfter),
          options.partial ?? null,
          runId,
        ],
      );
      return t;
    });
    return { run: (await this.run(runId))!, alerts: changes.alerts };
  }

  /** Counts `n` more shards enqueued for a run; answers the index of the first of them. */
  async addShards(runId: string, n: number): Promise<number> {
    return this.store.transaction(async (tx) => {
      const [row] = await tx.query<{ shards: number | null }>('SELECT shards FROM serve_runs WHERE id = ?', [runId]);
      const first = Number(row?.shards ?? 0);
      await tx.run('UPDATE serve_runs SET shards = ? WHERE id = ?', [first + n, runId]);
      return first;
    });
  }

  /** Records a shard's results once; answers false when this shard was already recorded (a redelivery). */
  async recordShard(result: ShardResult): Promise<boolean> {
    const n = await this.store.run(
      'INSERT INTO serve_shard_results (run_id, shard_index, worker, delivery, endpoints, open_ports, findings, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, shard_index) DO NOTHING',
      [result.runId, result.index, result.worker, result.delivery, result.endpoints, result.openPorts, JSON.stringify(result.findings), result.completedAt],
    );
    return n === 1;
  }

  async hasShard(runId: string, index: number): Promise<boolean> {
    return (await this.store.query('SELECT 1 AS x FROM serve_shard_results WHERE run_id = ? AND shard_index = ?', [runId, index])).length > 0;
  }

  /** How many of the shards with index in [from, to) are in. */
  async countShards(runId: string, from: number, to: number): Promise<number> {
    const [row] = await this.store.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM serve_shard_results WHERE run_id = ? AND shard_index >= ? AND shard_index < ?',
      [runId, from, to],
    );
    return Number(row?.n ?? 0);
  }

  /** The recorded shards with index in [from, to), in index order. */
  async shardResults(runId: string, from = 0, to = 2 ** 31 - 1): Promise<ShardResult[]> {
    const rows = await this.store.query<ShardRow>(
      'SELECT * FROM serve_shard_results WHERE run_id = ? AND shard_index >= ? AND shard_index < ? ORDER BY shard_index',
      [runId, from, to],
    );
    return rows.map((r) => ({
      runId: r.run_id,
      index: Number(r.shard_index),
      worker: r.worker,
      delivery: Number(r.delivery),
      endpoints: Number(r.endpoints),
      openPorts: Number(r.open_ports),
      findings: JSON.parse(r.findings) as Finding[],
      completedAt: Number(r.completed_at),
    }));
  }

  async run(id: string): Promise<RunRecord | undefined> {
    const [row] = await this.store.query<RunRow>('SELECT * FROM serve_runs WHERE id = ?', [id]);
    return row ? toRun(row) : undefined;
  }

  async listRuns(filter: { inventory?: string; limit?: number } = {}): Promise<RunRecord[]> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const rows = filter.inventory
      ? await this.store.query<RunRow>(`SELECT * FROM serve_runs WHERE inventory = ? ORDER BY started_at DESC, id DESC LIMIT ${limit}`, [filter.inventory])
      : await this.store.query<RunRow>(`SELECT * FROM serve_runs ORDER BY started_at DESC, id DESC LIMIT ${limit}`);
    return rows.map(toRun);
  }

  /** Finished runs oldest first, for the open-exposures chart. */
  async runSeries(since: number): Promise<Array<{ at: number; open: Record<string, number> }>> {
    const rows = await this.store.query<{ finished_at: number; open_after: string }>(
      "SELECT finished_at, open_after FROM serve_runs WHERE status = 'succeeded' AND finished_at >= ? ORDER BY finished_at",
      [since],
    );
    return rows.map((r) => ({ at: r.finished_at, open: JSON.parse(r.open_after) as Record<string, number> }));
  }

  async listFindings(
    filter: { state?: FindingState; inventory?: string; severity?: Severity; limit?: number; offset?: number } = {},
    now = Date.now(),
  ): Promise<StoredFinding[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    for (const [column, value] of [
      ['state', filter.state],
      ['inventory', filter.inventory],
      ['severity', filter.severity],
    ] as const) {
      if (value === undefined) continue;
      where.push(`f.${column} = ?`);
      params.push(value);
    }
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const offset = Math.max(filter.offset ?? 0, 0);
    const order = `${SQL_WORST_FIRST}, f.opened_at, f.inventory, f.id`;
    const rows = await this.store.query<FindingRow>(
      `${FINDING_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return rows.map((r) => toFinding(r, now));
  }

  async finding(inventory: string, id: string, now = Date.now()): Promise<{ finding: StoredFinding; events: FindingEvent[] } | undefined> {
    const [row] = await this.store.query<FindingRow>(`${FINDING_SELECT} WHERE f.inventory = ? AND f.id = ?`, [inventory, id]);
    if (!row) return undefined;
    const events = await this.store.query<{
      seq: number;
      run_id: string | null;
      at: number;
      kind: EventKind;
      severity: Severity | null;
      detail: string | null;
    }>('SELECT seq, run_id, at, kind, severity, detail FROM serve_finding_events WHERE inventory = ? AND finding_id = ? ORDER BY seq DESC LIMIT 500', [
      inventory,
      id,
    ]);
    return {
      finding: toFinding(row, now),
      events: events.map((e) => ({
        seq: Number(e.seq),
        runId: e.run_id,
        at: e.at,
        kind: e.kind,
        severity: e.severity,
        detail: e.detail ? (JSON.parse(e.detail) as Record<string, unknown>) : null,
      })),
    };
  }

  /** Acknowledges (still counted, alerts only on escalation) or suppresses (hidden, never alerts) a finding. */
  async acknowledge(inventory: string, id: string, ack: Omit<Acknowledgement, 'createdAt'>, now = Date.now()): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      const exists = await tx.query('SELECT id FROM serve_findings WHERE inventory = ? AND id = ?', [inventory, id]);
      if (!exists.length) return false;
      await tx.run('DELETE FROM serve_acknowledgements WHERE inventory = ? AND finding_id = ?', [inventory, id]);
      await tx.run(
        'INSERT INTO serve_acknowledgements (inventory, finding_id, kind, reason, expires_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [inventory, id, ack.kind, ack.reason, ack.expiresAt, now, ack.createdBy],
      );
      await tx.run('INSERT INTO serve_finding_events (inventory, finding_id, run_id, at, kind, severity, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        inventory,
        id,
        null,
        now,
        ack.kind === 'suppress' ? 'suppressed' : 'acknowledged',
        null,
        JSON.stringify({ reason: ack.reason, expiresAt: ack.expiresAt, by: ack.createdBy }),
      ]);
      return true;
    });
  }

  async unacknowledge(inventory: string, id: string, by: string, now = Date.now()): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      const n = await tx.run('DELETE FROM serve_acknowledgements WHERE inventory = ? AND finding_id = ?', [inventory, id]);
      if (n)
        await tx.run('INSERT INTO serve_finding_events (inventory, finding_id, run_id, at, kind, severity, detail) VALUES (?, ?, ?, ?, ?, ?, ?)', [
          inventory,
          id,
          null,
          now,
          'unacknowledged',
          null,
          JSON.stringify({ by }),
        ]);
      return n > 0;
    });
  }

  /** Open findings (suppressed ones left out) by severity. */
  openBySeverity(now = Date.now()): Promise<Record<string, number>> {
    return openCountsBySeverity(this.store, now);
  }

  /** For /metrics: open findings by severity and service, runs by status, and per-inventory timing. */
  async metrics(now = Date.now()): Promise<{
    open: Array<{ severity: string; service: string; inventory: string; n: number }>;
    runs: Array<{ inventory: string; status: string; n: number }>;
    last: Array<{ inventory: string; lastSuccess: number | null; lastDurationMs: number | null }>;
  }> {
    const open = await this.store.query<{ severity: string; service: string; inventory: string; n: number }>(
      `SELECT f.severity, f.service, f.inventory, COUNT(*) AS n FROM serve_findings f WHERE f.state = 'open' AND ${NOT_SUPPRESSED} GROUP BY f.severity, f.service, f.inventory`,
      [now],
    );
    const runs = await this.store.query<{ inventory: string; status: string; n: number }>(
      'SELECT inventory, status, COUNT(*) AS n FROM serve_runs GROUP BY inventory, status',
    );
    const last = await this.store.query<{ inventory: string; finished_at: number; started_at: number }>(
      "SELECT r.inventory, r.finished_at, r.started_at FROM serve_runs r WHERE r.status = 'succeeded' AND r.finished_at = (SELECT MAX(finished_at) FROM serve_runs s WHERE s.inventory = r.inventory AND s.status = 'succeeded')",
    );
    return {
      open: open.map((r) => ({ ...r, n: Number(r.n) })),
      runs: runs.map((r) => ({ ...r, n: Number(r.n) })),
      last: last.map((r) => ({ inventory: r.inventory, lastSuccess: r.finished_at, lastDurationMs: r.finished_at - r.started_at })),
    };
  }

  /** A session holds only its key's id: the key's scopes and ranges are checked as they are at each request. */
  async createSession(tokenHash: string, keyId: string, csrf: string, expiresAt: number, now = Date.now()): Promise<void> {
    await this.store.run('DELETE FROM serve_sessions WHERE expires_at <= ?', [now]);
    await this.store.run('INSERT INTO serve_sessions (token_hash, key_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
      tokenHash,
      keyId,
      csrf,
      now,
      expiresAt,
    ]);
  }

  async session(tokenHash: string, now = Date.now()): Promise<{ keyId: string; csrf: string } | undefined> {
    const [row] = await this.store.query<{ key_id: string; csrf: string }>('SELECT key_id, csrf FROM serve_sessions WHERE token_hash = ? AND expires_at > ?', [
      tokenHash,
      now,
    ]);
    return row ? { keyId: row.key_id, csrf: row.csrf } : undefined;
  }

  /** Ends every session of a key that no longer admits them (revoked, disabled, expired, or without serve:read). */
  async endKeySessions(keyId: string): Promise<void> {
    await this.store.run('DELETE FROM serve_sessions WHERE key_id = ?', [keyId]);
  }

  async endSession(tokenHash: string): Promise<void> {
    await this.store.run('DELETE FROM serve_sessions WHERE token_hash = ?', [tokenHash]);
  }
}

const NOT_SUPPRESSED =
  "NOT EXISTS (SELECT 1 FROM serve_acknowledgements a WHERE a.inventory = f.inventory AND a.finding_id = f.id AND a.kind = 'suppress' AND (a.expires_at IS NULL OR a.expires_at > ?))";

async function openCountsBySeverity(q: StoreQueries, now: number): Promise<Record<string, number>> {
  const rows = await q.query<{ severity: string; n: number }>(
    `SELECT f.severity, COUNT(*) AS n FROM serve_findings f WHERE f.state = 'open' AND ${NOT_SUPPRESSED} GROUP BY f.severity`,
    [now],
  );
  const out: Record<string, number> = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const r of rows) out[r.severity] = Number(r.n);
  return out;
}
