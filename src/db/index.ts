/** warden/db: small connectors to the stores Warden classifies and prunes (PostgreSQL, MySQL/MariaDB, ClickHouse over HTTP, SQLite). */
export type { ColumnInfo, Database, DbEngine, DbOpenOptions, DbParam, Dsn, TableInfo } from './types.js';
export { DbError, DsnError } from './errors.js';
export { parseDsn, redactDsnText, PASSWORD_VARIABLES } from './dsn.js';
export { openDatabase } from './open.js';
export { CLICKHOUSE_LOCAL_ENGINES, clickHouseLines, clickHouseLiteral, quoteClickHouseString } from './clickhouse.js';
export { quoteClickHouseIdent } from './quote.js';
export { newestOrder, type NewestOrder, type NewestOrderOptions } from './newest.js';
