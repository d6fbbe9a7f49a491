import { createConnection } from 'mysql2';
import type mysql from 'mysql2/promise';
import { DbError, DsnError } from './errors.js';
import { groupColumns } from './postgres.js';
import { quoteMySqlIdent } from './quote.js';
import type { Database, DbOpenOptions, DbParam, Dsn } from './types.js';

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

export async function openMysql(dsn: Dsn, options: DbOpenOptions = {}): Promise<Database> {
  let conn: mysql.Connection;
  const { signal } = options;
  try {
    const core = createConnection({
      host: dsn.host,
      port: dsn.port,
      user: dsn.user,
      password: dsn.password,
      database: dsn.database || undefined,
      timezone: 'Z',
      connectTimeout: 10_000,
      supportBigNumbers: true,
    });
    // mysql2 has no signal: destroying the connection, even mid-handshake, fails every call at once.
    signal?.addEventListener('abort', () => core.destroy(), { once: true });
    await new Promise<void>((resolve, reject) => {
      core.once('connect', () => resolve());
      core.once('error', reject);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
    // A failure between calls surfaces on the next call, not as an unhandled 'error' event.
    core.on('error', () => undefined);
    conn = core.promise();
    // DATETIME columns carry no zone: Warden reads them, and TIMESTAMP columns, as UTC.
    await conn.query("SET time_zone = '+00:00'");
  } catch (err) {
    throw new DsnError(`cannot connect to ${dsn.display}: ${(err as Error).message}`);
  }
  const run = async (sql: string, params?: readonly DbParam[]) => {
    try {
      return await conn.query(sql, params as unknown[]);
    } catch (err) {
      throw new DbError(`${dsn.display}: ${(err as Error).message}`);
    }
  };
  const qualified = (t: { schema: string; name: string }) => `${quoteMySqlIdent(t.schema)}.${quoteMySqlIdent(t.name)}`;
  return {
    engine: 'mysql',
    dsn,
    async query<T>(sql: string, params?: readonly DbParam[]) {
      return (await run(sql, params))[0] as T[];
    },
    async execute(sql, params) {
      return ((await run(sql, params))[0] as mysql.ResultSetHeader).affectedRows;
    },
    quoteIdent: quoteMySqlIdent,
    qualified,
    async serverVersion() {
      const [rows] = await run('SELECT VERSION() AS v');
      return String((rows as Array<{ v: string }>)[0]?.v ?? '');
    },
    async listTables() {
      const scope = dsn.database ? 'c.TABLE_SCHEMA = ?' : `c.TABLE_SCHEMA NOT IN (${SYSTEM_SCHEMAS.map(() => '?').join(', ')})`;
      const args = dsn.database ? [dsn.database] : SYSTEM_SCHEMAS;
      const [columns] = await run(
        `SELECT c.TABLE_SCHEMA AS \`schema\`, c.TABLE_NAME AS \`table\`, c.COLUMN_NAME AS \`column\`, c.COLUMN_TYPE AS \`type\`, c.COLUMN_KEY AS \`key\`
         FROM information_schema.COLUMNS c JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
         WHERE t.TABLE_TYPE = 'BASE TABLE' AND ${scope} ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`,
        args,
      );
      const rows = columns as Array<{ schema: string; table: string; column: string; type: string; key: string }>;
      const tables = groupColumns(rows);
      const [keys] = await run(
        `SELECT TABLE_SCHEMA AS \`schema\`, TABLE_NAME AS \`table\`, COLUMN_NAME AS \`column\` FROM information_schema.KEY_COLUMN_USAGE
         WHERE CONSTRAINT_NAME = 'PRIMARY' AND ${scope.replace('c.', '')} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION`,
        args,
      );
      for (const k of keys as Array<{ schema: string; table: string; column: string }>) {
        tables.find((t) => t.schema === k.schema && t.name === k.table)?.primaryKey.push(k.column);
      }
      return tables;
    },
    async sampleColumn(table, column, limit) {
      const col = quoteMySqlIdent(column);
      const [rows] = await run(`SELECT ${col} AS v FROM ${qualified(table)} WHERE ${col} IS NOT NULL ORDER BY RAND() LIMIT ${Number(limit)}`);
      return (rows as Array<{ v: unknown }>).map((r) => r.v);
    },
    async close() {
      if (signal?.aborted) return;
      await conn.end().catch(() => {});
    },
  };
}
