/**
 * Where triage reads from, as one stream of records: dump files (NDJSON, CSV, JSON, text, gzip of any,
 * a folder of them) read in chunks, and live stores read page by page, read-only and capped. Nothing is
 * loaded whole: a record is one line, one CSV row, one element of a JSON array, or one database row.
 */
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import {
  CLICKHOUSE_LOCAL_ENGINES,
  clickHouseLines,
  DsnError,
  openDatabase,
  parseDsn,
  redactDsnText,
  type Database,
  type Dsn,
  type TableInfo,
} from '../db/index.js';
import { WardenError } from '../errors.js';
import { bracketHost } from '../host-port.js';
import { captureCursor, incrementQueries, type TableCursor, type TableCursors } from './cursors.js';
import { walkFiles, openMaybeGzipped } from '../sources/index.js';
import { readableError } from './failure.js';
import { readRedis } from './redis.js';

export interface TriageRecord {
  /** The file or table the record came from. */
  part: string;
  /** The record as text: what the detection engine reads. */
  text: string;
  /** Structured fields, when the record has them (JSON objects, CSV rows, database rows). */
  fields?: Record<string, unknown>;
  /** Bytes this record took in the source. */
  bytes: number;
}

/** Emitted once per part after its last record. */
export interface PartEnd {
  partEnd: string;
  rows: number;
  truncated: boolean;
  error?: string;
  /** A live table: where it stood before it was read, for the next incremental triage. */
  cursor?: TableCursor;
}

export type SourceItem = TriageRecord | PartEnd;

export type DumpFormat = 'ndjson' | 'csv' | 'json' | 'text';

export interface SourceOptions {
  /** Rows read per table of a live store at most (default 1,000,000). */
  maxRowsPerTable?: number;
  /** Only these tables (`table` or `schema.table`) of a live store. */
  tables?: string[];
  /** A dump's format when its name does not say (default: by extension, else sniffed). */
  format?: DumpFormat;
  env?: NodeJS.ProcessEnv;
  /** Aborting stops a live store's reading at once and closes its connection (the triage deadline, shutdown). */
  signal?: AbortSignal;
  /**
   * A live SQL store read incrementally: per table only the rows after its cursor in `since` (all of a
   * table without one), newest first, at most `rows` rows over all tables. A table nothing tells new
   * rows from old in is not read, and its part says so.
   */
  increment?: { since: TableCursors; rows: number };
}

export const DEFAULT_MAX_ROWS_PER_TABLE = 1_000_000;
/** A line longer than this is cut into pieces; each piece is still scanned, so nothing is skipped. */
const MAX_RECORD_CHARS = 8 * 1024 * 1024;
const PAGE_ROWS = 5000;

/** True when the source names a live store rather than a file or folder. */
export function isLiveSource(source: string): boolean {
  return /^[a-z][a-z0-9+]*:\/\//i.test(source) || /\.(db|sqlite3?)$/i.test(source);
}

/** A source that cannot be read as given: a path that does not exist, a malformed connection string (exit 2). */
export class TriageSourceError extends WardenError {
  constructor(
    /** The source as it may be shown: no password, even one the string held. */
    readonly display: string,
    readonly reason: string,
  ) {
    super(`${display}: ${reason}`, 'TRIAGE_SOURCE_INVALID', 2);
    this.name = 'TriageSourceError';
  }
}

export interface SourceIdentity {
  /** Safe to print: a live store without any password, a dump by its absolute path. */
  display: string;
  /**
   * What makes two triages the same source, so the second replaces the first: a dump's real path
   * (symbolic links resolved), a store's engine, host (lowercased, as written: no DNS), port (the default
   * filled in) and database (PostgreSQL's default, the user's name, filled in); never the user or a password.
   */
  key: string;
}

const hostKey = (host: string) => bracketHost(host.toLowerCase());

/** Checks that a path can be read as a dump or SQLite file; returns its real path. */
function existingPath(path: string, display: string, folderAllowed: boolean): string {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new TriageSourceError(display, readableError(err));
  }
  if (!st.isFile() && !(folderAllowed && st.isDirectory())) throw new TriageSourceError(display, folderAllowed ? 'not a file or folder' : 'not a file');
  return realpathSync(path);
}

/** What a source is (see SourceIdentity), or a TriageSourceError when it cannot be read as given. */
export function identifySource(source: string, env: NodeJS.ProcessEnv = process.env): SourceIdentity {
  if (/^rediss?:\/\//i.test(source)) {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw new TriageSourceError(redactDsnText(source), 'not a valid connection string');
    }
    const db = url.pathname.replace(/^\//, '') || '0';
    const display = `redis://${url.host}/${db}`;
    if (url.password) throw new TriageSourceError(display, 'refusing a password inside the connection string: set WARDEN_DB_PASSWORD or REDISCLI_AUTH instead');
    if (!/^\d+$/.test(db)) throw new TriageSourceError(display, 'the database must be a number, as in redis://host:6379/0');
    return { display, key: `redis://${hostKey(url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1')}:${url.port || 6379}/${db}` };
  }
  if (isLiveSource(source)) {
    let dsn: Dsn;
    try {
      dsn = parseDsn(source, env);
    } catch (err) {
      if (err instanceof DsnError) throw new TriageSourceError(redactDsnText(source.trim()), err.message);
      throw err;
    }
    if (dsn.engine === 'sqlite') return { display: dsn.display, key: `sqlite://${existingPath(dsn.path, dsn.display, false)}` };
    const database = dsn.database || (dsn.engine === 'postgres' ? dsn.user : '');
    return { display: dsn.display, key: `${dsn.engine}://${hostKey(dsn.host)}:${dsn.port}/${database}` };
  }
  const display = resolve(source);
  return { display, key: `file://${existingPath(source, display, true)}` };
}

export async function* readSource(source: string, options: SourceOptions = {}): AsyncGenerator<SourceItem> {
  if (/^rediss?:\/\//i.test(source)) {
    yield* readRedis(source, options.maxRowsPerTable ?? DEFAULT_MAX_ROWS_PER_TABLE, options.env ?? process.env, options.signal);
    return;
  }
  if (isLiveSource(source)) {
    yield* readLiveStore(parseDsn(source, options.env ?? process.env), options);
    return;
  }
  const st = statSync(source);
  if (st.isDirectory()) {
    // The folder walk every file source shares: no symbolic link followed, `.git` never entered; a dump folder's
    // .gitignore does not hide a file from triage.
    for await (const file of walkFiles([source], { gitignore: false })) yield* readDumpFile(file.absolutePath, options.format);
    return;
  }
  yield* readDumpFile(source, options.format);
}

function formatFromName(name: string): DumpFormat | undefined {
  const bare = name.replace(/\.gz$/i, '').toLowerCase();
  if (/\.(ndjson|jsonl|log\.json)$/.test(bare)) return 'ndjson';
  if (bare.endsWith('.json')) return 'json';
  if (/\.(csv|tsv)$/.test(bare)) return 'csv';
  if (/\.(txt|log)$/.test(bare)) return 'text';
  return undefined;
}

function sniffFormat(head: string): DumpFormat {
  const t = head.trimStart();
  if (t.startsWith('[')) return 'json';
  if (t.startsWith('{')) {
    // One object per line is NDJSON; a pretty-printed object spans lines and is JSON.
    const firstLine = t.split('\n', 1)[0]!.trim();
    return firstLine.endsWith('}') ? 'ndjson' : 'json';
  }
  return 'text';
}

/** Text chunks of a file, gunzipped when it is gzip (by its magic bytes), with the raw bytes each took. */
async function* textChunks(path: string): AsyncGenerator<{ text: string; bytes: number }> {
  const stream = await openMaybeGzipped(path);
  const decoder = new StringDecoder('utf8');
  for await (const chunk of stream as AsyncIterable<Buffer>) yield { text: decoder.write(chunk), bytes: chunk.length };
  const rest = decoder.end();
  if (rest) yield { text: rest, bytes: 0 };
}

/** Lines of a file; a line over the cap is cut into pieces. Byte counts are the decoded text's. */
async function* lines(path: string): AsyncGenerator<string> {
  let pending = '';
  for await (const { text } of textChunks(path)) {
    pending += text;
    let start = 0;
    for (let nl = pending.indexOf('\n', start); nl !== -1; nl = pending.indexOf('\n', start)) {
      yield pending.charCodeAt(nl - 1) === 13 ? pending.slice(start, nl - 1) : pending.slice(start, nl);
      start = nl + 1;
    }
    pending = pending.slice(start);
    while (pending.length > MAX_RECORD_CHARS) {
      yield pending.slice(0, MAX_RECORD_CHARS);
      pending = pending.slice(MAX_RECORD_CHARS);
    }
  }
  if (pending) yield pending;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return isPlainObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

async function* readDumpFile(path: string, forced?: DumpFormat): AsyncGenerator<SourceItem> {
  let format = forced ?? formatFromName(path);
  if (!format) {
    for await (const { text } of textChunks(path)) {
      format = sniffFormat(text.slice(0, 4096));
      break;
    }
  }
  let rows = 0;
  try {
    if (format === 'json') {
      for await (const element of jsonElements(path)) {
        rows++;
        const fields = parseObject(element);
        yield { part: path, text: element, ...(fields ? { fields } : {}), bytes: Buffer.byteLength(element) };
      }
    } else if (format === 'csv') {
      let header: string[] | undefined;
      const sep = /\.tsv(\.gz)?$/i.test(path) ? '\t' : ',';
      for await (const record of csvRecords(path, sep)) {
        if (!header) {
          header = record.cells;
          continue;
        }
        rows++;
        const fields: Record<string, unknown> = {};
        header.forEach((h, i) => {
          if (record.cells[i] !== undefined && record.cells[i] !== '') fields[h] = record.cells[i];
        });
        yield { part: path, text: record.text, fields, bytes: Buffer.byteLength(record.text) + 1 };
      }
    } else {
      for await (const line of lines(path)) {
        if (!line) continue;
        rows++;
        const fields = format === 'ndjson' && line.charCodeAt(0) === 123 ? parseObject(line) : undefined;
        yield { part: path, text: line, ...(fields ? { fields } : {}), bytes: Buffer.byteLength(line) + 1 };
      }
    }
    yield { partEnd: path, rows, truncated: false };
  } catch (err) {
    yield { partEnd: path, rows, truncated: true, error: readableError(err) };
  }
}

/**
 * The elements of a top-level JSON array (or a sequence of top-level values), one at a time, found by
 * tracking depth and strings: the file is never parsed whole.
 */
async function* jsonElements(path: string): AsyncGenerator<string> {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let topIsArray: boolean | undefined;
  let current = '';
  let startAt = -1;
  const level = () => (topIsArray ? 1 : 0);
  for await (const { text } of textChunks(path)) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 92) escaped = true;
        else if (c === 34) inString = false;
        continue;
      }
      if (c === 32 || c === 10 || c === 13 || c === 9) continue;
      if (topIsArray === undefined) {
        if (c === 91) {
          topIsArray = true;
          depth = 1;
          continue;
        }
        topIsArray = false;
      }
      const separator = topIsArray && depth === 1 && (c === 44 || c === 93);
      if (startAt === -1 && depth === level() && !separator && (topIsArray || c === 123)) startAt = i;
      if (c === 34) {
        inString = true;
      } else if (c === 91 || c === 123) {
        depth++;
      } else if (separator) {
        // A scalar element ends at a comma or the closing bracket; it has no fields but may hold a secret.
        if (startAt !== -1) {
          const element = (current + text.slice(startAt, i)).trim();
          if (element) yield element;
        }
        current = '';
        startAt = -1;
        if (c === 93) {
          depth = 0;
          topIsArray = undefined;
        }
      } else if (c === 93 || c === 125) {
        depth--;
        if (depth === level() && startAt !== -1) {
          yield current + text.slice(startAt, i + 1);
          current = '';
          startAt = -1;
        }
      }
    }
    if (startAt !== -1) {
      current += text.slice(startAt);
      startAt = 0;
      if (current.length > MAX_RECORD_CHARS) {
        yield current;
        current = '';
      }
    }
  }
  if (current.trim()) yield current;
}

/** CSV records (RFC 4180 quoting; a quoted cell may span lines), each with its raw text. */
async function* csvRecords(path: string, sep: string): AsyncGenerator<{ text: string; cells: string[] }> {
  let pending: string | undefined;
  let quotes = 0;
  for await (const line of lines(path)) {
    for (let i = line.indexOf('"'); i !== -1; i = line.indexOf('"', i + 1)) quotes++;
    pending = pending === undefined ? line : `${pending}\n${line}`;
    if (quotes % 2 === 1 && pending.length < MAX_RECORD_CHARS) continue;
    yield { text: pending, cells: splitCsv(pending, sep) };
    pending = undefined;
    quotes = 0;
  }
  if (pending !== undefined) yield { text: pending, cells: splitCsv(pending, sep) };
}

function splitCsv(text: string, sep: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === sep) {
      cells.push(cell);
      cell = '';
    } else cell += ch;
  }
  cells.push(cell);
  return cells;
}

/** Database values as JSON-friendly values: bytes as text (secrets hide in blobs too), big integers as strings. */
function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) continue;
    out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'bigint' ? v.toString() : v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

function wanted(table: TableInfo, only: readonly string[] | undefined): boolean {
  return !only?.length || only.includes(table.name) || only.includes(`${table.schema}.${table.name}`);
}

async function* readLiveStore(dsn: Dsn, options: SourceOptions): AsyncGenerator<SourceItem> {
  const cap = options.maxRowsPerTable ?? DEFAULT_MAX_ROWS_PER_TABLE;
  const db = await openDatabase(dsn, options.env ?? process.env, options.signal ? { signal: options.signal } : {});
  try {
    await enterReadOnly(db);
    const tables = (await db.listTables()).filter((t) => wanted(t, options.tables));
    let spent = 0;
    for (const table of tables) {
      const part = `${table.schema}.${table.name}`;
      if (db.engine === 'clickhouse' && !CLICKHOUSE_LOCAL_ENGINES.test(table.tableEngine ?? '')) {
        yield { partEnd: part, rows: 0, truncated: true, error: `engine ${table.tableEngine ?? 'unknown'} reads outside the server; skipped` };
        continue;
      }
      // A failed statement aborts a PostgreSQL transaction: each table in its own savepoint, so one refused table leaves the others readable.
      if (db.engine === 'postgres') await db.execute('SAVEPOINT warden_table');
      // Taken before the rows are read: a row written during the read is read again next time, never missed.
      let cursor: TableCursor | undefined;
      let cursorError: string | undefined;
      try {
        cursor = await captureCursor(db, table);
      } catch (err) {
        cursorError = readableError(err);
      }
      const read = options.increment
        ? readTableIncrement(db, table, part, cursor, cursorError, options.increment.since[part], options.increment.rows - spent, options.signal)
        : readTable(db, table, part, cap, options.signal);
      for await (const item of read) {
        // A table that failed part-way has unread rows before its cursor: the next increment must not skip them.
        if ('partEnd' in item) yield { ...item, ...(cursor && !item.error ? { cursor } : {}) };
        else {
          spent++;
          yield item;
        }
      }
      if (db.engine === 'postgres') await db.execute('ROLLBACK TO SAVEPOINT warden_table');
    }
  } finally {
    await leaveReadOnly(db).catch(() => undefined);
    await db.close();
  }
}

function recordOf(part: string, raw: Record<string, unknown>): TriageRecord {
  const fields = plainRow(raw);
  const text = JSON.stringify(fields);
  return { part, text, fields, bytes: Buffer.byteLength(text) };
}

/** The whole table, up to `cap` rows. */
async function* readTable(db: Database, table: TableInfo, part: string, cap: number, signal: AbortSignal | undefined): AsyncGenerator<SourceItem> {
  if (db.engine === 'clickhouse') {
    yield* readClickHouse(db.dsn, [`SELECT * FROM ${db.qualified(table)} LIMIT ${cap + 1}`], part, cap, signal);
    return;
  }
  let rows = 0;
  let error: string | undefined;
  try {
    for (let offset = 0; offset < cap; offset += PAGE_ROWS) {
      const limit = Math.min(PAGE_ROWS, cap - offset + 1);
      const page = await db.query(`SELECT * FROM ${db.qualified(table)} LIMIT ${limit} OFFSET ${offset}`);
      for (const raw of page.slice(0, cap - rows)) {
        rows++;
        yield recordOf(part, raw);
      }
      if (page.length < limit || rows >= cap) break;
    }
  } catch (err) {
    error = readableError(err);
  }
  const truncated = rows >= cap && (await hasMoreThan(db, table, cap));
  yield { partEnd: part, rows, truncated, ...(error ? { error } : {}) };
}

/**
 * The rows written since `since`, newest first, at most `budget`. Truncated: more new rows than the
 * budget; the older of them are not read (the cursor still moves on, and the part says so).
 */
async function* readTableIncrement(
  db: Database,
  table: TableInfo,
  part: string,
  now: TableCursor | undefined,
  cursorError: string | undefined,
  since: TableCursor | undefined,
  budget: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceItem> {
  if (!now) {
    yield {
      partEnd: part,
      rows: 0,
      truncated: true,
      error: cursorError ?? 'no time column, integer key or MergeTree parts tells new rows from old; not re-read',
    };
    return;
  }
  if (budget <= 0) {
    yield { partEnd: part, rows: 0, truncated: true, error: 'the re-triage row budget was spent on other tables; read next time' };
    return;
  }
  let queries: Awaited<ReturnType<typeof incrementQueries>>;
  try {
    queries = await incrementQueries(db, table, now, since, budget + 1);
  } catch (err) {
    yield { partEnd: part, rows: 0, truncated: true, error: readableError(err) };
    return;
  }
  if (db.engine === 'clickhouse') {
    yield* readClickHouse(
      db.dsn,
      queries.map((q) => q.sql),
      part,
      budget,
      signal,
    );
    return;
  }
  let rows = 0;
  let truncated = false;
  let error: string | undefined;
  try {
    for (const q of queries) {
      for (const raw of await db.query(q.sql, q.params)) {
        if (rows === budget) {
          truncated = true;
          break;
        }
        rows++;
        yield recordOf(part, raw);
      }
    }
  } catch (err) {
    error = readableError(err);
  }
  yield { partEnd: part, rows, truncated, ...(error ? { error } : {}) };
}

async function hasMoreThan(db: Database, table: TableInfo, n: number): Promise<boolean> {
  const more = await db.query(`SELECT 1 AS x FROM ${db.qualified(table)} LIMIT 1 OFFSET ${n}`).catch(() => []);
  return more.length > 0;
}

/** Every page after this runs in one read-only snapshot, so the triage can change nothing even by mistake. */
async function enterReadOnly(db: Database): Promise<void> {
  if (db.engine === 'postgres') await db.execute('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
  else if (db.engine === 'mysql') await db.execute('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  else if (db.engine === 'sqlite') await db.execute('PRAGMA query_only = 1');
}

async function leaveReadOnly(db: Database): Promise<void> {
  if (db.engine === 'postgres' || db.engine === 'mysql') await db.execute('ROLLBACK');
}

/**
 * ClickHouse SELECTs as one part's stream of JSONEachRow lines over GET (which ClickHouse runs read-only,
 * as the scanner does), `cap` rows at most over all of them; each response is read as it arrives, never
 * buffered whole.
 */
async function* readClickHouse(dsn: Dsn, selects: string[], part: string, cap: number, signal: AbortSignal | undefined): AsyncGenerator<SourceItem> {
  let rows = 0;
  let truncated = false;
  let error: string | undefined;
  try {
    reading: for (const select of selects) {
      for await (const line of clickHouseLines(dsn, select, signal)) {
        if (rows === cap) {
          truncated = true;
          break reading;
        }
        rows++;
        const fields = parseObject(line);
        yield { part, text: line, ...(fields ? { fields } : {}), bytes: Buffer.byteLength(line) + 1 };
      }
    }
  } catch (err) {
    error = readableError(err);
  }
  yield { partEnd: part, rows, truncated, ...(error ? { error } : {}) };
}
