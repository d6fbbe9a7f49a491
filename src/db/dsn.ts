import { resolve } from 'node:path';
import { DsnError } from './errors.js';
import type { DbEngine, Dsn } from './types.js';

const SCHEMES: Record<string, DbEngine> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  clickhouse: 'clickhouse',
  'clickhouse+http': 'clickhouse',
  sqlite: 'sqlite',
};

const DEFAULT_PORTS: Record<Exclude<DbEngine, 'sqlite'>, number> = { postgres: 5432, mysql: 3306, clickhouse: 8123 };
const DEFAULT_USERS: Record<Exclude<DbEngine, 'sqlite'>, string> = { postgres: 'postgres', mysql: 'root', clickhouse: 'default' };

/** Each engine's conventional variable, read when WARDEN_DB_PASSWORD is unset. */
export const PASSWORD_VARIABLES: Record<Exclude<DbEngine, 'sqlite'>, string> = {
  postgres: 'PGPASSWORD',
  mysql: 'MYSQL_PWD',
  clickhouse: 'CLICKHOUSE_PASSWORD',
};

/**
 * Parses `postgres://user@host:5432/db`, `mysql://…`, `mariadb://…`, `clickhouse://user@host:8123/db`
 * (HTTP interface), `sqlite:///path/file.db` or a bare path ending in .db/.sqlite/.sqlite3.
 *
 * A password inside the string is refused: connection strings arrive on the command line, where any user
 * of the machine can read them (ps, shell history). Passwords come from WARDEN_DB_PASSWORD, else the
 * engine's own variable (PGPASSWORD, MYSQL_PWD, CLICKHOUSE_PASSWORD); no password at all is fine.
 */
export function parseDsn(text: string, env: NodeJS.ProcessEnv = process.env): Dsn {
  const trimmed = text.trim();
  if (/^[a-z0-9+]+:\/\//i.test(trimmed) === false) {
    if (/\.(db|sqlite3?)$/i.test(trimmed) || trimmed === ':memory:') return sqliteDsn(trimmed);
    throw new DsnError(
      `cannot read connection string ${JSON.stringify(redactDsnText(trimmed))}: expected postgres://, mysql://, mariadb://, clickhouse://, sqlite:// or a .db file`,
    );
  }
  const scheme = trimmed.slice(0, trimmed.indexOf(':')).toLowerCase();
  if (scheme === 'clickhouse+native') {
    throw new DsnError('clickhouse+native:// is not supported yet: use the HTTP interface, clickhouse://host:8123/db');
  }
  const engine = SCHEMES[scheme];
  if (!engine) throw new DsnError(`unknown scheme ${scheme}:// (expected postgres, mysql, mariadb, clickhouse or sqlite)`);
  if (engine === 'sqlite') return sqliteDsn(decodeURIComponent(trimmed.slice('sqlite://'.length)));
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new DsnError(`cannot parse connection string ${JSON.stringify(redactDsnText(trimmed))}`);
  }
  if (url.password) {
    throw new DsnError(
      `refusing a password inside the connection string (${redactDsnText(trimmed)}): command lines are visible to other users; set WARDEN_DB_PASSWORD or ${PASSWORD_VARIABLES[engine]} instead`,
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = url.port ? Number(url.port) : DEFAULT_PORTS[engine];
  const user = decodeURIComponent(url.username) || DEFAULT_USERS[engine];
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const password = env.WARDEN_DB_PASSWORD ?? env[PASSWORD_VARIABLES[engine]];
  const display = `${engine === 'mysql' ? scheme : engine === 'clickhouse' ? 'clickhouse' : 'postgres'}://${encodeURIComponent(user)}@${url.host}/${encodeURIComponent(database)}`;
  return { engine, host, port, user, database, path: '', password: password === '' ? undefined : password, display };
}

function sqliteDsn(path: string): Dsn {
  if (!path) throw new DsnError('sqlite:// needs a file path, e.g. sqlite:///var/lib/app/logs.db');
  const full = path === ':memory:' ? path : resolve(path);
  return { engine: 'sqlite', host: '', port: 0, user: '', database: '', path: full, password: undefined, display: `sqlite://${full}` };
}

/**
 * Hides everything from the `:` after the user to the last `@`, so an error message never repeats a
 * password, even one holding `@`, `/`, `?` or `#` that a URL parser would split elsewhere.
 */
export function redactDsnText(text: string): string {
  return text.replace(/^([a-z0-9+]+:\/\/[^/@:?#]*):[^]*@/i, '$1:***@');
}
