import type { Database, DbParam, TableInfo } from '../db/index.js';

/** How a timestamp column is compared: a date (whole days), a date-time, or SQLite text read by julianday(). */
export type TimestampKind = 'date' | 'datetime' | 'sqlite-text';

const DAY_MS = 86_400_000;

/** The kind of a timestamp column, or undefined when its type cannot age rows (numbers, text outside SQLite). */
export function timestampKind(engine: Database['engine'], type: string): TimestampKind | undefined {
  const t = type.toLowerCase().replace(/^nullable\((.*)\)$/, '$1');
  if (engine === 'sqlite') return /int|real|num|blob/.test(t) ? undefined : 'sqlite-text';
  if (t === 'date') return 'date';
  if (/^(timestamp|datetime)/.test(t)) return 'datetime';
  return undefined;
}

/**
 * The one cutoff of a run for one window: `now − window`, rounded down to the second (whole days for
 * DATE columns). Rows strictly older are past the window; a row exactly at the cutoff is kept. Rounding
 * down only ever keeps more, so nothing inside its window is deleted whatever the engine's precision.
 */
export function cutoffFor(now: Date, windowDays: number, kind: TimestampKind): Date {
  const raw = now.getTime() - windowDays * DAY_MS;
  return new Date(kind === 'date' ? Math.floor(raw / DAY_MS) * DAY_MS : Math.floor(raw / 1000) * 1000);
}

/** Everything a deleter needs to know about one table: where, which rows, and which rows a tenant hold keeps. */
export interface RetentionTarget {
  info: TableInfo;
  timestampColumn: string;
  kind: TimestampKind;
  cutoff: Date;
  tenantColumn?: string;
  /** Tenants whose rows a legal hold keeps. */
  heldTenants: string[];
}

export interface Predicate {
  sql: string;
  params: DbParam[];
}

/** `ts < cutoff` in the engine's terms. */
export function olderThanCutoff(db: Database, t: RetentionTarget): Predicate {
  const ts = db.quoteIdent(t.timestampColumn);
  if (t.kind === 'sqlite-text') return { sql: `julianday(${ts}) < julianday(?)`, params: [t.cutoff.toISOString()] };
  if (db.engine === 'clickhouse') {
    return t.kind === 'date' ? { sql: `${ts} < toDate(?)`, params: [t.cutoff.toISOString().slice(0, 10)] } : { sql: `${ts} < ?`, params: [t.cutoff] };
  }
  return { sql: `${ts} < ?`, params: [t.cutoff] };
}

/** Rows past the window that no hold keeps: exactly what retention deletes. */
export function deletablePredicate(db: Database, t: RetentionTarget): Predicate {
  const older = olderThanCutoff(db, t);
  if (!t.tenantColumn || t.heldTenants.length === 0) return older;
  const tenant = db.quoteIdent(t.tenantColumn);
  return {
    sql: `${older.sql} AND (${tenant} IS NULL OR ${tenant} NOT IN (${t.heldTenants.map(() => '?').join(', ')}))`,
    params: [...older.params, ...t.heldTenants],
  };
}

export async function countWhere(db: Database, t: RetentionTarget, p: Predicate): Promise<number> {
  const rows = await db.query<{ n: unknown }>(`SELECT count(*) AS n FROM ${db.qualified(t.info)} WHERE ${p.sql}`, p.params);
  return Number(rows[0]?.n ?? 0);
}
