import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { applyMigrations, checkTopic, type MigrationConnection } from './migrate.js';
import type { Row, SqlValue, Store, StoreQueries, SubscribeHandlers, Subscription } from './types.js';
import { StoreUnavailableError } from './unavailable.js';

/** How often a process looks for changes committed by other processes on the same file. */
const POLL_MS = 100;
/** Change rows older than this are pruned; a poller that slept longer has lost nothing it needs (caches expire sooner). */
const CHANGE_RETENTION_MS = 60_000;

const CHANGES = `CREATE TABLE IF NOT EXISTS warden_changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL
)`;

/** Prepared statements kept per connection; SQL built with a variable number of placeholders varies. */
const STATEMENT_CACHE_SIZE = 256;

/** How long a statement waits for another connection's write lock before giving up. */
const BUSY_WAIT_MS = 5000;

/**
 * Waits for another connection's write lock without blocking the event loop: SQLite's own busy
 * timeout sleeps the thread, which would deadlock two connections in one process.
 */
async function retryBusy<T>(fn: () => T): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50, 1 + attempt * 2)));
    }
  }
}

function bind(params: readonly SqlValue[] | undefined): unknown[] {
  return (params ?? []).map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/**
 * Embedded SQLite through better-sqlite3: one connection per process, WAL so readers in other
 * processes are not blocked. Cross-process notification is polling of SQLite's own change counter
 * (`PRAGMA data_version`), then reading a small change table: cheap, and needs no server.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  private readonly db: Database.Database;
  /** better-sqlite3 is synchronous; an async transaction must keep other callers out until it ends. */
  private gate: Promise<void> = Promise.resolve();
  private readonly subscribers = new Map<string, Set<SubscribeHandlers>>();
  private poller: NodeJS.Timeout | undefined;
  private lastSeq = 0;
  private lastDataVersion = -1;
  private localChange = false;
  private closed = false;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.location = path;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      this.db = new Database(path);
      if (path !== ':memory:') {
        // Key hashes and audit entries are not for other local users.
        chmodSync(path, 0o600);
        this.db.pragma('journal_mode = WAL');
      }
    } catch (err) {
      throw new StoreUnavailableError(path, err);
    }
    this.db.pragma('busy_timeout = 0');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(CHANGES);
  }

  /** Compiling a statement costs more than running a small one; hot statements are kept, up to a bound. */
  private prepared(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.clear();
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private querySync<T>(sql: string, params?: readonly SqlValue[]): T[] {
    return this.prepared(sql).all(...bind(params)) as T[];
  }

  private runSync(sql: string, params?: readonly SqlValue[]): number {
    const stmt = this.prepared(sql);
    if (stmt.reader) {
      stmt.all(...bind(params));
      return 0;
    }
    return stmt.run(...bind(params)).changes;
  }

  /** Statements inside a transaction already hold the write lock; they never wait. */
  private connection(): MigrationConnection {
    return {
      dialect: 'sqlite',
      query: async <T>(sql: string, params?: readonly SqlValue[]) => this.querySync<T>(sql, params),
      run: async (sql: string, params?: readonly SqlValue[]) => this.runSync(sql, params),
      execScript: async (sql: string) => {
        this.db.exec(sql);
      },
    };
  }

  async query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    await this.gate;
    return retryBusy(() => this.querySync<T>(sql, params));
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    await this.gate;
    return retryBusy(() => this.runSync(sql, params));
  }

  private async exclusive<T>(fn: (conn: MigrationConnection) => Promise<T>): Promise<T> {
    const previous = this.gate;
    let release!: () => void;
    this.gate = previous.then(() => new Promise<void>((r) => (release = r)));
    await previous;
    try {
      await retryBusy(() => this.db.exec('BEGIN IMMEDIATE'));
      const result = await fn(this.connection());
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      release();
    }
  }

  transaction<T>(fn: (tx: StoreQueries) => Promise<T>): Promise<T> {
    return this.exclusive(fn);
  }

  migrate(capability: string, migrations: Parameters<Store['migrate']>[1]): Promise<void> {
    return this.exclusive((conn) => applyMigrations(conn, capability, migrations));
  }

  async publish(topic: string, payload: string): Promise<void> {
    const now = Date.now();
    await this.run('INSERT INTO warden_changes (topic, payload, at) VALUES (?, ?, ?)', [checkTopic(topic), payload, now]);
    if (Math.random() < 0.05) await this.run('DELETE FROM warden_changes WHERE at < ?', [now - CHANGE_RETENTION_MS]);
    this.localChange = true;
  }

  async subscribe(topic: string, handlers: SubscribeHandlers): Promise<Subscription> {
    checkTopic(topic);
    if (!this.poller) {
      this.lastSeq = Number((this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM warden_changes').get() as { seq: number }).seq);
      this.lastDataVersion = this.db.pragma('data_version', { simple: true }) as number;
      this.poller = setInterval(() => this.poll(), POLL_MS);
      this.poller.unref();
    }
    let set = this.subscribers.get(topic);
    if (!set) this.subscribers.set(topic, (set = new Set()));
    set.add(handlers);
    handlers.onState?.(true);
    return {
      close: async () => {
        set.delete(handlers);
      },
    };
  }

  private poll(): void {
    if (this.closed || this.db.inTransaction) return;
    const version = this.db.pragma('data_version', { simple: true }) as number;
    if (version === this.lastDataVersion && !this.localChange) return;
    this.lastDataVersion = version;
    this.localChange = false;
    const rows = this.db.prepare('SELECT seq, topic, payload FROM warden_changes WHERE seq > ? ORDER BY seq').all(this.lastSeq) as Array<{
      seq: number;
      topic: string;
      payload: string;
    }>;
    for (const row of rows) {
      this.lastSeq = row.seq;
      for (const h of this.subscribers.get(row.topic) ?? []) h.onMessage(row.payload);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.gate;
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    this.db.close();
  }
}
