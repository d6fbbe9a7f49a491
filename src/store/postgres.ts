import pg from 'pg';
import { applyMigrations, checkTopic, type MigrationConnection } from './migrate.js';
import type { Row, SqlValue, Store, StoreQueries, SubscribeHandlers, Subscription } from './types.js';
import { StoreUnavailableError } from './unavailable.js';

const INT8_OID = 20;
/** Timestamps are epoch milliseconds in BIGINT columns; they fit a double exactly. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Every connection attempt has a deadline: a server that never answers must not hang a command. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Any stable 64-bit number serialises migrators across processes (pg_advisory_xact_lock). */
const MIGRATION_LOCK = 0x5741_5244;

/** `?` placeholders become `$1…$n`; Warden's SQL never holds a literal question mark. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable url)';
  }
}

function queriesOn(client: pg.PoolClient): MigrationConnection {
  return {
    dialect: 'postgres',
    async query<T>(sql: string, params?: readonly SqlValue[]) {
      return (await client.query(numbered(sql), params as unknown[])).rows as T[];
    },
    async run(sql: string, params?: readonly SqlValue[]) {
      return (await client.query(numbered(sql), params as unknown[])).rowCount ?? 0;
    },
    async execScript(sql: string) {
      await client.query(sql);
    },
  };
}

/**
 * PostgreSQL for several processes sharing one state. Notifications use LISTEN/NOTIFY on a
 * dedicated connection that reconnects by itself; subscribers hear when it drops and returns.
 */
export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  private readonly pool: pg.Pool;
  private listener: pg.Client | undefined;
  private listenerUp = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly subscribers = new Map<string, Set<SubscribeHandlers>>();
  private closed = false;

  constructor(private readonly url: string) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({ connectionString: url, types: TYPES, max: 10, application_name: 'warden', connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    // A dropped idle connection must not crash the process; the next query gets a fresh one.
    this.pool.on('error', () => undefined);
  }

  /** Not getting a connection means the server is unreachable or refuses us: said as such, not as a bug. */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw new StoreUnavailableError(this.location, err);
    }
  }

  private async withConnection<T>(fn: (conn: MigrationConnection) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let failed: Error | undefined;
    try {
      return await fn(queriesOn(client));
    } catch (err) {
      failed = err as Error;
      throw err;
    } finally {
      // A client whose query failed may be broken; the pool drops it rather than hand it out again.
      client.release(failed);
    }
  }

  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.withConnection((conn) => conn.query<T>(sql, params));
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.withConnection((conn) => conn.run(sql, params));
  }

  private async withClient<T>(fn: (conn: MigrationConnection) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(queriesOn(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  transaction<T>(fn: (tx: StoreQueries) => Promise<T>): Promise<T> {
    return this.withClient(fn);
  }

  migrate(capability: string, migrations: Parameters<Store['migrate']>[1]): Promise<void> {
    return this.withClient(async (conn) => {
      await conn.query('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
      await applyMigrations(conn, capability, migrations);
    });
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [`warden_${checkTopic(topic)}`, payload]);
  }

  async subscribe(topic: string, handlers: SubscribeHandlers): Promise<Subscription> {
    checkTopic(topic);
    let set = this.subscribers.get(topic);
    const isNewTopic = !set;
    if (!set) this.subscribers.set(topic, (set = new Set()));
    set.add(handlers);
    if (!this.listener && !this.reconnectTimer) await this.connectListener(0);
    else if (isNewTopic && this.listener && this.listenerUp) await this.listener.query(`LISTEN warden_${topic}`);
    handlers.onState?.(this.listenerUp);
    return {
      close: async () => {
        set.delete(handlers);
      },
    };
  }

  private setState(up: boolean): void {
    if (this.listenerUp === up) return;
    this.listenerUp = up;
    for (const set of this.subscribers.values()) for (const h of set) h.onState?.(up);
  }

  private async connectListener(attempt: number): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.closed) return;
    const client = new pg.Client({ connectionString: this.url, application_name: 'warden-listen' });
    const lost = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.setState(false);
      client.end().catch(() => undefined);
      this.scheduleReconnect(0);
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      const topic = msg.channel.slice('warden_'.length);
      for (const h of this.subscribers.get(topic) ?? []) h.onMessage(msg.payload ?? '');
    });
    try {
      await client.connect();
      for (const topic of this.subscribers.keys()) await client.query(`LISTEN warden_${topic}`);
      this.listener = client;
      this.setState(true);
    } catch {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      this.scheduleReconnect(attempt + 1);
    }
  }

  private scheduleReconnect(attempt: number): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = Math.min(2000, 100 * 2 ** attempt);
    this.reconnectTimer = setTimeout(() => void this.connectListener(attempt), delay);
    this.reconnectTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await listener.end().catch(() => undefined);
    await this.pool.end();
  }
}
