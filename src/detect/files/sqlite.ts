import { statSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Every SQLite file starts with this header. */
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** Databases larger than this are skipped as too large (reported, never silently). */
export const SQLITE_MAX_BYTES = 1024 * 1024 * 1024;

export function isSqlite(head: Buffer): boolean {
  return head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC);
}

/** One text cell of a table: `row` counts from 1 in the table's own order, `column` is the column's index from 1. */
export interface SqliteCell {
  table: string;
  row: number;
  column: number;
  name: string;
  text: string;
}

export class SqliteTooLarge extends Error {}

/**
 * The text cells of every table in a SQLite file (browser and CLI credential stores: gcloud's
 * credentials.db, password managers' exports), opened read-only so nothing is ever written or journalled.
 * Blobs that are valid UTF-8 text count as text: many tools store JSON credentials as blobs.
 */
export function* sqliteCells(path: string, onUnreadableTable: (table: string, detail: string) => void): Generator<SqliteCell> {
  if (statSync(path).size > SQLITE_MAX_BYTES) throw new SqliteTooLarge(`over ${SQLITE_MAX_BYTES} bytes`);
  // Loaded on demand: most runs never meet a database.
  const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    for (const table of tables) {
      let rows: IterableIterator<unknown[]>;
      let names: string[];
      try {
        const statement = db.prepare(`SELECT * FROM "${table.replace(/"/g, '""')}"`).raw(true);
        names = statement.columns().map((c) => c.name);
        rows = statement.iterate() as IterableIterator<unknown[]>;
      } catch (err) {
        // A virtual table whose module is not loaded, a corrupt page: the rest of the file is still read.
        onUnreadableTable(table, (err as Error).message);
        continue;
      }
      let row = 0;
      for (const values of rows) {
        row++;
        for (let i = 0; i < values.length; i++) {
          const text = cellText(values[i]);
          if (text) yield { table, row, column: i + 1, name: names[i] ?? '', text };
        }
      }
    }
  } finally {
    db.close();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function cellText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!Buffer.isBuffer(value) || value.length === 0 || value.includes(0)) return undefined;
  try {
    return utf8.decode(value);
  } catch {
    return undefined;
  }
}
