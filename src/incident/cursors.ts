/**
 * Where a live table stood when it was last triaged, so the next triage of an open incident reads only
 * the rows written since: by the table's time column or integer key (its largest value), or, for a
 * ClickHouse MergeTree table without one, by its parts (the largest block number per partition; block
 * numbers only grow). Cursor values come from the exposed store: they are bound as parameters (or, for
 * ClickHouse, inlined as escaped literals and checked digits), never pasted into SQL as they are.
 */
import { clickHouseLiteral, newestOrder, type Database, type DbParam, type TableInfo } from '../db/index.js';

export type TableCursor =
  /** Rows whose `column` is at least (time) or above (key) `after`; null: the table was empty. */
  | { by: 'column'; column: string; kind: 'time' | 'key'; after: string | null }
  /** Rows of parts with a block number above the partition's; a partition not listed is new. */
  | { by: 'parts'; blocks: Record<string, number> };

/** Cursors by part (`schema.table`), as a triage recorded them. */
export type TableCursors = Record<string, TableCursor>;

const isMergeTree = (table: TableInfo) => /MergeTree$/.test(table.tableEngine ?? '');

/** The table's largest value as text, in the engine's own spelling (so it compares back exactly). */
function maxAsText(db: Database, column: string): string {
  const c = db.quoteIdent(column);
  if (db.engine === 'clickhouse') return `toString(max(${c}))`;
  if (db.engine === 'postgres') return `max(${c})::text`;
  if (db.engine === 'mysql') return `CAST(max(${c}) AS CHAR)`;
  return `CAST(max(${c}) AS TEXT)`;
}

interface PartRow {
  partition: string;
  name: string;
  block: number;
}

async function activeParts(db: Database, table: TableInfo): Promise<PartRow[]> {
  const rows = await db.query<{ partition: string; name: string; block: number | string }>(
    'SELECT partition_id AS partition, name, max_block_number AS block FROM system.parts WHERE active AND database = ? AND table = ? ORDER BY max_block_number DESC',
    [table.schema, table.name],
  );
  return rows.map((r) => ({ partition: String(r.partition), name: String(r.name), block: Number(r.block) }));
}

/** Where the table stands now; undefined when nothing tells its new rows from old (no time column, integer key or parts). */
export async function captureCursor(db: Database, table: TableInfo): Promise<TableCursor | undefined> {
  const newest = newestOrder(table.columns, { key: table.primaryKey });
  if (newest) {
    const [row] = await db.query<{ m: unknown }>(`SELECT ${maxAsText(db, newest.column)} AS m FROM ${db.qualified(table)}`);
    const m = row?.m;
    return { by: 'column', column: newest.column, kind: newest.kind, after: m === null || m === undefined ? null : String(m) };
  }
  if (db.engine === 'clickhouse' && isMergeTree(table)) {
    const blocks: Record<string, number> = {};
    for (const p of await activeParts(db, table)) blocks[p.partition] = Math.max(blocks[p.partition] ?? 0, p.block);
    return { by: 'parts', blocks };
  }
  return undefined;
}

/** One query of an incremental read: the SQL and, outside ClickHouse, its parameters. */
export interface IncrementQuery {
  sql: string;
  params: DbParam[];
}

/**
 * The queries that read the rows after `since`, newest first, at most `limit` rows in all (the caller
 * stops at the limit): one ORDER BY … DESC query by column, or one query per new ClickHouse part,
 * newest part first. Without `since` (or with one of another kind), the newest rows of the whole table.
 */
export async function incrementQueries(
  db: Database,
  table: TableInfo,
  now: TableCursor,
  since: TableCursor | undefined,
  limit: number,
): Promise<IncrementQuery[]> {
  const from = db.qualified(table);
  if (now.by === 'column') {
    const c = db.quoteIdent(now.column);
    const after = since?.by === 'column' && since.column === now.column && since.kind === now.kind ? since.after : null;
    // Time: at least the last value (rows written in the same second come after it); key: above it.
    const op = now.kind === 'time' ? '>=' : '>';
    if (after === null || (db.engine === 'clickhouse' && now.kind === 'key' && !/^-?\d{1,20}$/.test(after)))
      return [{ sql: `SELECT * FROM ${from} ORDER BY ${c} DESC LIMIT ${limit}`, params: [] }];
    if (db.engine === 'clickhouse') {
      // 18.x has no bound parameters, and compares an integer column with no string: a checked number, or an escaped time literal.
      const literal = now.kind === 'key' ? after : clickHouseLiteral(after);
      return [{ sql: `SELECT * FROM ${from} WHERE ${c} ${op} ${literal} ORDER BY ${c} DESC LIMIT ${limit}`, params: [] }];
    }
    return [{ sql: `SELECT * FROM ${from} WHERE ${c} ${op} ? ORDER BY ${c} DESC LIMIT ${limit}`, params: [after] }];
  }
  const blocks = since?.by === 'parts' ? since.blocks : {};
  const fresh = (await activeParts(db, table)).filter((p) => p.block > (blocks[p.partition] ?? -1));
  return fresh.map((p) => ({ sql: `SELECT * FROM ${from} WHERE _part = ${clickHouseLiteral(p.name)} LIMIT ${limit}`, params: [] }));
}
