import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/index.js';
import { DbError } from '../db/index.js';
import { deletablePredicate, type RetentionTarget } from './target.js';

export interface BatchOptions {
  /** Rows per batch (the most one transaction touches); default 5,000. */
  batchSize: number;
  /** Sleep between batches so replicas and other writers keep up; default 100 ms. */
  pauseMs: number;
  /** Longest a batch may wait for or hold locks; a batch over it is rolled back and retried at half the size. */
  maxLockMs: number;
  /** Called after each committed batch (progress; the kill test watches it). */
  onBatch?: (rows: number, ms: number) => void;
}

export interface DeleteOutcome {
  rowsDeleted: number;
  batches: number;
  longestBatchMs: number;
  partitionsDropped: string[];
  mutationIds: string[];
  notes: string[];
}

export const emptyOutcome = (): DeleteOutcome => ({ rowsDeleted: 0, batches: 0, longestBatchMs: 0, partitionsDropped: [], mutationIds: [], notes: [] });

/** Server messages that mean "this batch hit the lock-time cap", per engine. */
const OVER_CAP = /statement timeout|lock timeout|lock wait timeout|max_statement_time|database is locked|SQLITE_BUSY/i;

/** The statements that delete one batch, in the engine's way. Every batch re-checks the predicate itself. */
function batchStatements(
  db: Database,
  t: RetentionTarget,
  size: number,
  maxLockMs: number,
  mariaDb: boolean,
): Array<{ sql: string; params: unknown[]; deletes?: true }> {
  const from = db.qualified(t.info);
  const p = deletablePredicate(db, t);
  const pk = t.info.primaryKey.map((c) => db.quoteIdent(c));
  switch (db.engine) {
    case 'postgres': {
      // By primary key where there is one, else by physical row address (ctid); SKIP LOCKED leaves rows a writer holds for the next batch.
      const select = `SELECT ${pk.length ? pk.join(', ') : 'ctid'} FROM ${from} WHERE ${p.sql} LIMIT ${size} FOR UPDATE SKIP LOCKED`;
      const match = pk.length ? `(${pk.join(', ')}) IN (${select})` : `ctid = ANY(ARRAY(${select}))`;
      return [
        { sql: 'BEGIN', params: [] },
        { sql: `SET LOCAL lock_timeout = '${maxLockMs}ms'`, params: [] },
        { sql: `SET LOCAL statement_timeout = '${maxLockMs}ms'`, params: [] },
        { sql: `DELETE FROM ${from} WHERE ${match} AND ${p.sql}`, params: [...p.params, ...p.params], deletes: true },
        { sql: 'COMMIT', params: [] },
      ];
    }
    case 'mysql': {
      const order = pk.length ? ` ORDER BY ${pk.join(', ')}` : '';
      const cap = mariaDb ? `SET STATEMENT max_statement_time = ${(maxLockMs / 1000).toFixed(3)} FOR ` : '';
      return [{ sql: `${cap}DELETE FROM ${from} WHERE ${p.sql}${order} LIMIT ${size}`, params: p.params, deletes: true }];
    }
    case 'sqlite':
      return [{ sql: `DELETE FROM ${from} WHERE rowid IN (SELECT rowid FROM ${from} WHERE ${p.sql} LIMIT ${size})`, params: p.params, deletes: true }];
    case 'clickhouse':
      throw new DbError('ClickHouse deletes by partition or mutation, not in batches');
  }
}

/**
 * Deletes every row past the window, a bounded batch at a time, each batch its own transaction. A run
 * killed between (or inside) batches loses at most one uncommitted batch; running again continues.
 */
export async function deleteInBatches(db: Database, t: RetentionTarget, options: BatchOptions): Promise<DeleteOutcome> {
  const outcome = emptyOutcome();
  let size = options.batchSize;
  const mariaDb = db.engine === 'mysql' && /mariadb/i.test(await db.serverVersion());
  if (db.engine === 'mysql') {
    await db.execute(`SET SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.ceil(options.maxLockMs / 1000))}`);
    if (!mariaDb) outcome.notes.push('MySQL caps lock waits (innodb_lock_wait_timeout) but not DELETE run time; batch size bounds it');
  }
  let overCapInARow = 0;
  for (;;) {
    const started = performance.now();
    let deleted = 0;
    try {
      for (const s of batchStatements(db, t, size, options.maxLockMs, mariaDb)) {
        const n = await db.execute(s.sql, s.params as never);
        if (s.deletes) deleted = n;
      }
    } catch (err) {
      if (db.engine === 'postgres') await db.execute('ROLLBACK').catch(() => {});
      if (!(err instanceof DbError) || !OVER_CAP.test(err.message) || ++overCapInARow > 8) throw err;
      size = Math.max(1, Math.floor(size / 2));
      outcome.notes.push(`a batch hit the ${options.maxLockMs} ms lock cap; batch size now ${size}`);
      await sleep(options.pauseMs);
      continue;
    }
    overCapInARow = 0;
    const ms = performance.now() - started;
    if (deleted === 0) break;
    outcome.rowsDeleted += deleted;
    outcome.batches++;
    outcome.longestBatchMs = Math.max(outcome.longestBatchMs, Math.round(ms));
    options.onBatch?.(deleted, ms);
    if (options.pauseMs > 0) await sleep(options.pauseMs);
  }
  return outcome;
}
