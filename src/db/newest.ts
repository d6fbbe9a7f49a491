/**
 * Which column says how new a row is. Logs are appended; the rows written now (the ones with live keys)
 * are the newest, and a plain `SELECT … LIMIT n` returns the oldest. The scanner samples by this column
 * and incident re-triage reads only the rows after it.
 */
import type { ColumnInfo } from './types.js';

/** Types that hold a point in time (lowercased engine names: ClickHouse DateTime/Date, PostgreSQL timestamp…, MySQL datetime/timestamp). */
const TIME_TYPE = /^(nullable\()?(datetime|date\b|timestamp)/;
/** Integer types a key counts up in (ClickHouse UInt64…, PostgreSQL integer/bigint, MySQL int/bigint unsigned). */
const INTEGER_TYPE = /^(u?int(8|16|32|64)?\b|integer|bigint|smallint|mediumint)/;
/** Column names that usually hold the row's time (compared lowercased, without separators). */
const TIME_NAME = /^(timestamp|ts|time|createdat|eventtime|loggedat|insertedat|requesttime|date|datetime|eventdate)$/;

export interface NewestOrder {
  column: string;
  /** A time column (newest = largest time) or an integer key (newest = largest key). */
  kind: 'time' | 'key';
}

export interface NewestOrderOptions {
  /** The table's key columns in order (PostgreSQL/MySQL primary key, ClickHouse sorting key). */
  key?: readonly string[];
  /** When given, only these columns may be ordered by (PostgreSQL/MySQL: leading index columns, so the ORDER BY stays cheap). */
  indexed?: ReadonlySet<string>;
}

const plainName = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The column to read newest rows by: the key's first column when it is a time, else a time column with a
 * time-like name, else any time column, else an integer first key column. Undefined when there is none.
 */
export function newestOrder(columns: readonly ColumnInfo[], options: NewestOrderOptions = {}): NewestOrder | undefined {
  const allowed = (c: ColumnInfo) => !options.indexed || options.indexed.has(c.name);
  const times = columns.filter((c) => TIME_TYPE.test(c.type) && allowed(c));
  const first = options.key?.[0];
  const keyTime = times.find((c) => c.name === first);
  const named = times.find((c) => TIME_NAME.test(plainName(c.name)));
  const time = keyTime ?? named ?? times[0];
  if (time) return { column: time.name, kind: 'time' };
  const keyInteger = columns.find((c) => c.name === first && INTEGER_TYPE.test(c.type));
  return keyInteger ? { column: keyInteger.name, kind: 'key' } : undefined;
}
