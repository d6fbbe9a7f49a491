import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/index.js';
import { emptyOutcome, type DeleteOutcome } from './sql-batches.js';
import { countWhere, deletablePredicate, type RetentionTarget } from './target.js';

/** A partition's printed value is pasted into DROP PARTITION; anything beyond these characters is not dropped. */
const SAFE_PARTITION = /^[\w'(), :.-]{1,200}$/;

export interface MutationState {
  id: string;
  done: boolean;
  partsToDo: number;
}

export async function mutationsOf(db: Database, t: RetentionTarget): Promise<MutationState[]> {
  const rows = await db.query<{ mutation_id: string; is_done: number; parts_to_do: string | number }>(
    'SELECT mutation_id, is_done, parts_to_do FROM system.mutations WHERE database = ? AND table = ?',
    [t.info.schema, t.info.name],
  );
  return rows.map((r) => ({ id: r.mutation_id, done: Number(r.is_done) === 1, partsToDo: Number(r.parts_to_do) }));
}

/** Waits until the named mutations (or all of the table's) are done; answers those still running at the deadline. */
export async function waitForMutations(db: Database, t: RetentionTarget, timeoutMs: number, ids?: readonly string[]): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = (await mutationsOf(db, t)).filter((m) => (!ids || ids.includes(m.id)) && (!m.done || m.partsToDo > 0)).map((m) => m.id);
    if (pending.length === 0 || Date.now() > deadline) return pending;
    await sleep(100);
  }
}

/** True when the partition key is built from the timestamp column alone, so each partition spans a time range. */
export async function partitionedByTimestamp(db: Database, t: RetentionTarget): Promise<boolean> {
  if (!t.info.partitionKey) return false;
  const cols = await db.query<{ name: string }>('SELECT name FROM system.columns WHERE database = ? AND table = ? AND is_in_partition_key = 1', [
    t.info.schema,
    t.info.name,
  ]);
  return cols.length === 1 && cols[0]!.name === t.timestampColumn;
}

export interface PartitionSurvey {
  /** Partitions every row of which is deletable (past the window, no hold). */
  expired: Array<{ partition: string; rows: number }>;
  /** Partitions holding rows on both sides of the cutoff (or held rows): a mutation handles these. */
  mixed: number;
}

export async function surveyPartitions(db: Database, t: RetentionTarget): Promise<PartitionSurvey> {
  const parts = await db.query<{ partition: string }>(
    'SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition',
    [t.info.schema, t.info.name],
  );
  const p = deletablePredicate(db, t);
  const survey: PartitionSurvey = { expired: [], mixed: 0 };
  for (const { partition } of parts) {
    if (!SAFE_PARTITION.test(partition)) {
      survey.mixed++;
      continue;
    }
    const [row] = await db.query<{ rows: string; deletable: string }>(
      `SELECT count() AS rows, countIf(${p.sql}) AS deletable FROM ${db.qualified(t.info)} WHERE (${t.info.partitionKey}) = ${partition}`,
      p.params,
    );
    const rows = Number(row?.rows ?? 0);
    const deletable = Number(row?.deletable ?? 0);
    if (rows > 0 && rows === deletable) survey.expired.push({ partition, rows });
    else if (deletable > 0) survey.mixed++;
  }
  return survey;
}

export interface ClickHouseDeleteOptions {
  /** How long to wait for a mutation to finish rewriting parts; default 10 minutes. */
  mutationTimeoutMs: number;
}

/**
 * Drops partitions whose every row is past the window (when the table is partitioned by its timestamp),
 * then removes the rest with one `ALTER TABLE … DELETE` mutation and waits for it to rewrite every part.
 * A mutation left running by an interrupted run is waited for first, so a rerun never stacks duplicates.
 */
export async function deleteOnClickHouse(db: Database, t: RetentionTarget, options: ClickHouseDeleteOptions): Promise<DeleteOutcome> {
  const outcome = emptyOutcome();
  const leftOver = await waitForMutations(db, t, options.mutationTimeoutMs);
  if (leftOver.length) {
    outcome.notes.push(`mutations from an earlier run still running: ${leftOver.join(', ')}`);
    return outcome;
  }
  const started = performance.now();
  if (await partitionedByTimestamp(db, t)) {
    for (const { partition, rows } of (await surveyPartitions(db, t)).expired) {
      const t0 = performance.now();
      await db.execute(`ALTER TABLE ${db.qualified(t.info)} DROP PARTITION ${partition}`);
      outcome.partitionsDropped.push(partition);
      outcome.rowsDeleted += rows;
      outcome.batches++;
      outcome.longestBatchMs = Math.max(outcome.longestBatchMs, Math.round(performance.now() - t0));
    }
  }
  const p = deletablePredicate(db, t);
  const remaining = await countWhere(db, t, p);
  if (remaining > 0) {
    const before = new Set((await mutationsOf(db, t)).map((m) => m.id));
    await db.execute(`ALTER TABLE ${db.qualified(t.info)} DELETE WHERE ${p.sql}`, p.params);
    const ours = (await mutationsOf(db, t)).filter((m) => !before.has(m.id)).map((m) => m.id);
    outcome.mutationIds.push(...ours);
    const t0 = performance.now();
    const pending = await waitForMutations(db, t, options.mutationTimeoutMs, ours);
    outcome.batches++;
    outcome.longestBatchMs = Math.max(outcome.longestBatchMs, Math.round(performance.now() - t0));
    if (pending.length) outcome.notes.push(`mutation ${pending.join(', ')} still rewriting parts after ${options.mutationTimeoutMs} ms`);
    outcome.rowsDeleted += remaining - (await countWhere(db, t, p));
  }
  outcome.notes.push(`took ${Math.round(performance.now() - started)} ms`);
  return outcome;
}

/** ClickHouse learned `TTL` in 19.6; older servers answer with a clear refusal instead of a syntax error. */
export function supportsNativeTtl(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 19 || (major === 19 && minor >= 6);
}

/** Installs `TTL <ts> + INTERVAL <n> DAY`, letting merges delete expired rows from now on. */
export async function installNativeTtl(db: Database, t: RetentionTarget, windowDays: number): Promise<void> {
  await db.execute(`ALTER TABLE ${db.qualified(t.info)} MODIFY TTL ${db.quoteIdent(t.timestampColumn)} + INTERVAL ${windowDays} DAY`);
}
