import Sqlite from 'better-sqlite3';
import { DbError, DsnError } from './errors.js';
import { quoteStandardIdent } from './quote.js';
import type { Database, DbParam, Dsn, TableInfo } from './types.js';

/** SQLite binds numbers, strings, bigints and null; dates go in as ISO-8601 text, booleans as 0/1. */
const bind = (params?: readonly DbParam[]) => (params ?? []).map((p) => (p instanceof Date ? p.toISOString() : typeof p === 'boolean' ? (p ? 1 : 0) : p));

export async function openSqlite(dsn: Dsn): Promise<Database> {
  let db: Sqlite.Database;
  try {
    db = new Sqlite(dsn.path, { fileMustExist: dsn.path !== ':memory:' });
    // A writer elsewhere holds the lock at most this long before a statement gives up: the lock-time cap.
    db.pragma('busy_timeout = 2000');
  } catch (err) {
    throw new DsnError(`cannot open ${dsn.display}: ${(err as Error).message}`);
  }
  const guard = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new DbError(`${dsn.display}: ${(err as Error).message}`);
    }
  };
  const qualified = (t: { schema: string; name: string }) => `${quoteStandardIdent(t.schema)}.${quoteStandardIdent(t.name)}`;
  return {
    engine: 'sqlite',
    dsn,
    async query<T>(sql: string, params?: readonly DbParam[]) {
      return guard(() => db.prepare(sql).all(...bind(params)) as T[]);
    },
    async execute(sql, params) {
      return guard(() => db.prepare(sql).run(...bind(params)).changes);
    },
    quoteIdent: quoteStandardIdent,
    qualified,
    async serverVersion() {
      return guard(() => String((db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v));
    },
    async listTables() {
      return guard(() => {
        const names = db
          .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
          .all() as Array<{ name: string }>;
        return names.map(({ name }): TableInfo => {
          const cols = db.prepare(`PRAGMA table_info(${quoteStandardIdent(name)})`).all() as Array<{ name: string; type: string; pk: number }>;
          return {
            schema: 'main',
            name,
            columns: cols.map((c) => ({ name: c.name, type: c.type.toLowerCase() })),
            primaryKey: cols
              .filter((c) => c.pk > 0)
              .sort((a, b) => a.pk - b.pk)
              .map((c) => c.name),
          };
        });
      });
    },
    async sampleColumn(table, column, limit) {
      const col = quoteStandardIdent(column);
      return guard(() =>
        (db.prepare(`SELECT ${col} AS v FROM ${qualified(table)} WHERE ${col} IS NOT NULL ORDER BY random() LIMIT ?`).all(limit) as Array<{ v: unknown }>).map(
          (r) => r.v,
        ),
      );
    },
    async close() {
      db.close();
    },
  };
}
