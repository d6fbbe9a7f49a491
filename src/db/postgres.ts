import pg from 'pg';
import { DbError, DsnError } from './errors.js';
import { quoteStandardIdent } from './quote.js';
import type { Database, DbOpenOptions, DbParam, Dsn, TableInfo } from './types.js';

/** `?` placeholders become `$1…$n`; Warden's SQL never holds a literal question mark. */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

/** Groups catalog rows (one per column) into tables, keeping catalog order. */
export function groupColumns(rows: Array<{ schema: string; table: string; column: string; type: string }>): TableInfo[] {
  const tables = new Map<string, TableInfo>();
  for (const r of rows) {
    const key = `${r.schema}\0${r.table}`;
    let t = tables.get(key);
    if (!t) tables.set(key, (t = { schema: r.schema, name: r.table, columns: [], primaryKey: [] }));
    t.columns.push({ name: r.column, type: r.type.toLowerCase() });
  }
  return [...tables.values()];
}

export async function openPostgres(dsn: Dsn, options: DbOpenOptions = {}): Promise<Database> {
  // Every field is set, so pg's own fallbacks (PGPASSWORD, PGDATABASE, ~/.pgpass) never apply: the Dsn
  // is all a server gets, and a server that asks for a password when none is configured gets none.
  const client = new pg.Client({
    host: dsn.host,
    port: dsn.port,
    user: dsn.user,
    database: dsn.database || dsn.user,
    password: dsn.password ?? (() => Promise.reject(new Error('the server asked for a password and none is configured'))),
    connectionTimeoutMillis: 10_000,
    application_name: 'warden',
  });
  // pg has no signal: destroying the socket fails the call in progress, and every later one, at once.
  const onAbort = () => client.connection.stream.destroy(new Error(String(options.signal?.reason?.message ?? 'aborted')));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
    // Naive `timestamp` columns are read as UTC, so cutoffs mean the same thing on every client.
    await client.query("SET TimeZone = 'UTC'");
  } catch (err) {
    options.signal?.removeEventListener('abort', onAbort);
    if (!options.signal?.aborted) await client.end().catch(() => {});
    throw new DsnError(`cannot connect to ${dsn.display}: ${(err as Error).message}`);
  }
  const run = async (sql: string, params?: readonly DbParam[]) => {
    try {
      return await client.query(numbered(sql), params as unknown[]);
    } catch (err) {
      throw new DbError(`${dsn.display}: ${(err as Error).message}`);
    }
  };
  const qualified = (t: { schema: string; name: string }) => `${quoteStandardIdent(t.schema)}.${quoteStandardIdent(t.name)}`;
  return {
    engine: 'postgres',
    dsn,
    async query<T>(sql: string, params?: readonly DbParam[]) {
      return (await run(sql, params)).rows as T[];
    },
    async execute(sql, params) {
      return (await run(sql, params)).rowCount ?? 0;
    },
    quoteIdent: quoteStandardIdent,
    qualified,
    async serverVersion() {
      return String((await run('SHOW server_version')).rows[0]?.server_version ?? '');
    },
    async listTables() {
      const columns = await run(`SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        ORDER BY n.nspname, c.relname, a.attnum`);
      const tables = groupColumns(columns.rows);
      const keys = await run(`SELECT n.nspname AS schema, c.relname AS table, a.attname AS column
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
        WHERE i.indisprimary ORDER BY n.nspname, c.relname, array_position(i.indkey::int[], a.attnum::int)`);
      for (const k of keys.rows as Array<{ schema: string; table: string; column: string }>) {
        tables.find((t) => t.schema === k.schema && t.name === k.table)?.primaryKey.push(k.column);
      }
      return tables;
    },
    async sampleColumn(table, column, limit) {
      const col = quoteStandardIdent(column);
      const from = qualified(table);
      const estimate = await run('SELECT GREATEST(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = ?::regclass', [from]);
      const rows = Number(estimate.rows[0]?.n ?? 0);
      // Ten times the sample's worth of rows by Bernoulli sampling keeps the pick random without a full sort.
      const percent = rows > 0 ? Math.min(100, ((limit * 10) / rows) * 100) : 100;
      if (percent < 100) {
        const sampled = await run(`SELECT ${col} AS v FROM ${from} TABLESAMPLE BERNOULLI (${percent.toFixed(6)}) WHERE ${col} IS NOT NULL LIMIT ${limit}`);
        if (sampled.rows.length >= limit) return sampled.rows.map((r) => r.v);
      }
      return (await run(`SELECT ${col} AS v FROM ${from} WHERE ${col} IS NOT NULL ORDER BY random() LIMIT ${limit}`)).rows.map((r) => r.v);
    },
    async close() {
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) return;
      await client.end().catch(() => {});
    },
  };
}
