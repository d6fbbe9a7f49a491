/** Row values the store passes through unchanged in both dialects (timestamps are epoch milliseconds). */
export type SqlValue = string | number | bigint | boolean | null | Buffer;
export type Row = Record<string, unknown>;

/** One step of a capability's schema. `sql` is a string when both dialects agree, else one per dialect. */
export interface Migration {
  version: number;
  name: string;
  sql: string | { sqlite: string; postgres: string };
}

/** Statements run on one connection; inside `transaction` they are atomic. SQL uses `?` placeholders. */
export interface StoreQueries {
  readonly dialect: 'sqlite' | 'postgres';
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; answers how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface SubscribeHandlers {
  onMessage(payload: string): void;
  /**
   * The channel went down (false) or came (back) up (true). Messages sent while it was down are
   * lost, so a subscriber that caches must treat `true` after `false` as "forget everything".
   */
  onState?(connected: boolean): void;
}

/**
 * The one persistence interface Warden's capabilities share. Each capability owns its tables and
 * brings its own migrations; the store only runs them, in order, once.
 */
export interface Store extends StoreQueries {
  /** Where the data lives, safe to print (a PostgreSQL URL loses its password). */
  readonly location: string;
  transaction<T>(fn: (tx: StoreQueries) => Promise<T>): Promise<T>;
  /** Applies the capability's migrations not yet applied; concurrent callers apply each once. */
  migrate(capability: string, migrations: readonly Migration[]): Promise<void>;
  /** Tells every process sharing this store that something on `topic` changed. */
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topic: string, handlers: SubscribeHandlers): Promise<Subscription>;
  close(): Promise<void>;
}
