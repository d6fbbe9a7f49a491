import type { Migration, StoreQueries } from './types.js';

/** Multi-statement DDL runs outside the parameterised path. */
export interface MigrationConnection extends StoreQueries {
  execScript(sql: string): Promise<void>;
}

const LEDGER = `CREATE TABLE IF NOT EXISTS warden_migrations (
  capability TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (capability, version)
)`;

/**
 * Applies, in version order, each migration of `capability` that the ledger does not list. The
 * caller holds a lock that serialises migrators (SQLite: an immediate transaction; PostgreSQL: an
 * advisory lock), so two processes starting together apply each step once.
 */
export async function applyMigrations(conn: MigrationConnection, capability: string, migrations: readonly Migration[]): Promise<void> {
  await conn.execScript(LEDGER);
  const applied = new Set(
    (await conn.query<{ version: number }>('SELECT version FROM warden_migrations WHERE capability = ?', [capability])).map((r) => Number(r.version)),
  );
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of ordered) {
    if (applied.has(m.version)) continue;
    await conn.execScript(typeof m.sql === 'string' ? m.sql : m.sql[conn.dialect]);
    await conn.run('INSERT INTO warden_migrations (capability, version, name, applied_at) VALUES (?, ?, ?, ?)', [capability, m.version, m.name, Date.now()]);
  }
}

/** Topics become PostgreSQL channel names and SQLite column values; keep them plain. */
export function checkTopic(topic: string): string {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(topic)) throw new Error(`invalid store topic ${JSON.stringify(topic)}`);
  return topic;
}
