import { openClickHouse } from './clickhouse.js';
import { parseDsn } from './dsn.js';
import { openMysql } from './mysql.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import type { Database, DbOpenOptions, Dsn } from './types.js';

/** Opens a connection string (or a parsed one); the password comes from the environment only. */
export async function openDatabase(target: string | Dsn, env: NodeJS.ProcessEnv = process.env, options: DbOpenOptions = {}): Promise<Database> {
  const dsn = typeof target === 'string' ? parseDsn(target, env) : target;
  options.signal?.throwIfAborted();
  switch (dsn.engine) {
    case 'postgres':
      return openPostgres(dsn, options);
    case 'mysql':
      return openMysql(dsn, options);
    case 'clickhouse':
      return openClickHouse(dsn, options);
    case 'sqlite':
      return openSqlite(dsn);
  }
}
