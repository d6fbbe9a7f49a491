import { randomUUID } from 'node:crypto';
import type { Database } from '../db/index.js';
import type { AuditLog } from './audit.js';
import { deleteOnClickHouse, installNativeTtl, waitForMutations } from './clickhouse.js';
import type { RetentionPlan, TablePlan } from './plan.js';
import { deleteInBatches, emptyOutcome, type BatchOptions, type DeleteOutcome } from './sql-batches.js';
import { countWhere, deletablePredicate } from './target.js';

export interface ApplyOptions extends BatchOptions {
  audit?: AuditLog;
  mutationTimeoutMs: number;
}

export const DEFAULT_APPLY_OPTIONS: Omit<ApplyOptions, 'audit'> = { batchSize: 5000, pauseMs: 100, maxLockMs: 2000, mutationTimeoutMs: 600_000 };

export interface TableResult {
  table: string;
  status: 'done' | 'incomplete' | 'failed' | 'refused' | 'nothing-to-do' | 'ttl-installed';
  outcome: DeleteOutcome;
  /** Counted again after deleting: rows past the window no hold keeps (must be 0), and unfinished mutations. */
  verification?: { pastWindowRemaining: number; mutationsPending: string[]; ok: boolean };
  message?: string;
}

export interface ApplyResult {
  runId: string;
  store: string;
  results: TableResult[];
}

/**
 * Deletes what the plan showed, table by table, then counts again to verify and writes an audit record.
 * The cutoffs are the plan's: one clock reading for the whole run.
 */
export async function applyRetention(db: Database, plan: RetentionPlan, options: ApplyOptions): Promise<ApplyResult> {
  const runId = randomUUID();
  const results: TableResult[] = [];
  for (const entry of plan.tables) results.push(await applyTable(db, plan, entry, runId, options));
  return { runId, store: plan.store, results };
}

async function applyTable(db: Database, plan: RetentionPlan, entry: TablePlan, runId: string, options: ApplyOptions): Promise<TableResult> {
  if (entry.refused || !entry.target)
    return { table: entry.table, status: 'refused', outcome: emptyOutcome(), ...(entry.refused ? { message: entry.refused } : {}) };
  const t = entry.target;
  const base = {
    runId,
    store: plan.store,
    table: entry.table,
    windowDays: entry.windowDays,
    timestampColumn: t.timestampColumn,
    cutoff: t.cutoff.toISOString(),
    method: entry.method,
    heldTenants: t.heldTenants.length,
  };
  if (entry.method === 'native-ttl') {
    await installNativeTtl(db, t, entry.windowDays);
    options.audit?.write({ ...base, event: 'finish', status: 'done' });
    return { table: entry.table, status: 'ttl-installed', outcome: emptyOutcome() };
  }
  options.audit?.write({ ...base, event: 'start' });
  let outcome = emptyOutcome();
  try {
    outcome = db.engine === 'clickhouse' ? await deleteOnClickHouse(db, t, options) : await deleteInBatches(db, t, options);
  } catch (err) {
    const message = (err as Error).message;
    options.audit?.write({ ...base, event: 'finish', status: 'failed', rowsDeleted: outcome.rowsDeleted, error: message });
    return { table: entry.table, status: 'failed', outcome, message };
  }
  const pastWindowRemaining = await countWhere(db, t, deletablePredicate(db, t));
  const mutationsPending = db.engine === 'clickhouse' ? await waitForMutations(db, t, 0) : [];
  const verification = { pastWindowRemaining, mutationsPending, ok: pastWindowRemaining === 0 && mutationsPending.length === 0 };
  const status = verification.ok ? (outcome.rowsDeleted === 0 ? 'nothing-to-do' : 'done') : 'incomplete';
  options.audit?.write({
    ...base,
    event: 'finish',
    status: verification.ok ? 'done' : 'incomplete',
    rowsDeleted: outcome.rowsDeleted,
    partitionsDropped: outcome.partitionsDropped,
    mutationIds: outcome.mutationIds,
    verification,
  });
  return { table: entry.table, status, outcome, verification };
}
