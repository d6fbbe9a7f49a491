/** The engines Warden reads and prunes. */
export type DbEngine = 'postgres' | 'mysql' | 'clickhouse' | 'sqlite';

/** A parsed connection string. The password never comes from the string itself, only from the environment. */
export interface Dsn {
  engine: DbEngine;
  host: string;
  port: number;
  user: string;
  /** PostgreSQL/MySQL/ClickHouse database; empty means "all the user can see" (PostgreSQL: the user's default). */
  database: string;
  /** SQLite file path. */
  path: string;
  /** From WARDEN_DB_PASSWORD or the engine's own variable; never printed. */
  password: string | undefined;
  /** Safe to print: no password, ever. */
  display: string;
}

export interface DbOpenOptions {
  /** Aborting closes the connection at once: the call in progress and every later one fail. */
  signal?: AbortSignal;
}

export interface ColumnInfo {
  name: string;
  /** The engine's own type name, lowercased (e.g. `timestamp with time zone`, `datetime`, `array(float32)`). */
  type: string;
}

export interface TableInfo {
  /** PostgreSQL schema, MySQL/ClickHouse database, or `main` for SQLite. */
  schema: string;
  name: string;
  columns: ColumnInfo[];
  /** Primary-key columns in order; empty when there is none. */
  primaryKey: string[];
  /** ClickHouse: the table engine (MergeTree…), its partition key and sampling key expressions. */
  tableEngine?: string;
  partitionKey?: string;
  samplingKey?: string;
}

/** A value the query layer binds; ClickHouse inlines them as literals (18.x has no server-side parameters). */
export type DbParam = string | number | bigint | boolean | null | Date;

/**
 * One open connection. SQL uses `?` placeholders. Errors from the server surface as `DbError` with the
 * server's message; they never carry row values.
 */
export interface Database {
  readonly engine: DbEngine;
  readonly dsn: Dsn;
  query<T = Record<string, unknown>>(sql: string, params?: readonly DbParam[]): Promise<T[]>;
  /** Runs a statement; answers how many rows it changed where the engine says (ClickHouse: 0). */
  execute(sql: string, params?: readonly DbParam[]): Promise<number>;
  quoteIdent(name: string): string;
  /** `schema.table`, quoted. */
  qualified(table: { schema: string; name: string }): string;
  serverVersion(): Promise<string>;
  /** Every user table with its columns (system catalogs excluded). */
  listTables(): Promise<TableInfo[]>;
  /** Up to `limit` non-null values of one column, random where the engine can. */
  sampleColumn(table: TableInfo, column: string, limit: number): Promise<unknown[]>;
  close(): Promise<void>;
}
