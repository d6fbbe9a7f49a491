import { alignColumns } from '../report/index.js';
import type { ApplyResult } from './apply.js';
import type { RetentionPlan, TablePlan } from './plan.js';

/** The plan as data: everything but the internal deletion target. */
export function planToJson(plans: readonly RetentionPlan[]): unknown {
  return plans.map((p) => ({ ...p, tables: p.tables.map(({ target: _target, ...rest }: TablePlan) => rest) }));
}

export function formatPlanTable(plans: readonly RetentionPlan[]): string {
  const out: string[] = [];
  for (const p of plans) {
    out.push(`${p.store}  (${p.engine}; clock ${p.now})`);
    const rows = [['table', 'window', 'timestamp', 'oldest row', 'rows', 'past window', 'held', 'how']];
    for (const t of p.tables) {
      rows.push([
        t.table,
        `${t.windowDays}d`,
        t.timestampColumn ?? '-',
        t.oldest ?? '-',
        String(t.rows ?? '-'),
        String(t.pastWindow ?? '-'),
        String(t.heldRows ?? 0),
        t.refused ? `refused: ${t.refused}` : `${t.method}: ${t.methodDetail}`,
      ]);
    }
    out.push(rows.length > 1 ? alignColumns(rows) : '  no table matches the policy', '');
  }
  return out.join('\n');
}

export function formatApplyTable(results: readonly ApplyResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`${r.store}  (run ${r.runId})`);
    const rows = [['table', 'status', 'deleted', 'batches', 'longest batch ms', 'left past window', 'notes']];
    for (const t of r.results) {
      rows.push([
        t.table,
        t.status,
        String(t.outcome.rowsDeleted),
        String(t.outcome.batches),
        String(t.outcome.longestBatchMs),
        String(t.verification?.pastWindowRemaining ?? '-'),
        [t.message, ...t.outcome.notes].filter(Boolean).join('; '),
      ]);
    }
    out.push(rows.length > 1 ? alignColumns(rows) : '  nothing to do', '');
  }
  return out.join('\n');
}

/** What an apply of these plans would change: rows past their window to delete, and ClickHouse TTLs to install. */
export function deletionSummary(plans: readonly RetentionPlan[]): { rows: number; tables: number; ttlTables: number } {
  const acting = plans.flatMap((p) => p.tables.filter((t) => !t.refused && t.target));
  const deleting = acting.filter((t) => t.method !== 'native-ttl' && (t.pastWindow ?? 0) > 0);
  return {
    rows: deleting.reduce((n, t) => n + (t.pastWindow ?? 0), 0),
    tables: deleting.length,
    ttlTables: acting.filter((t) => t.method === 'native-ttl').length,
  };
}
