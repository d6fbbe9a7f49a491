/** warden/store: embedded SQLite (default) and PostgreSQL behind one small interface, with per-capability migrations. */
export type { Migration, Row, SqlValue, Store, StoreQueries, SubscribeHandlers, Subscription } from './types.js';
export { SqliteStore } from './sqlite.js';
export { PostgresStore, redactUrl } from './postgres.js';
export { StoreUnavailableError } from './unavailable.js';
export { openStore, defaultStorePath, isPostgresUrl } from './open.js';
