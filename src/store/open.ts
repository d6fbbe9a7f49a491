import { homedir } from 'node:os';
import { join } from 'node:path';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

/** `$XDG_DATA_HOME/warden/warden.db`, else `~/.local/share/warden/warden.db`. */
export function defaultStorePath(): string {
  const base = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'warden', 'warden.db');
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/**
 * Opens a store: a `postgres://` URL, `:memory:`, or a SQLite file path (created on first use).
 * Without a location: WARDEN_STORE, else the default SQLite file.
 */
export function openStore(location?: string): Store {
  const where = location || process.env.WARDEN_STORE || defaultStorePath();
  return isPostgresUrl(where) ? new PostgresStore(where) : new SqliteStore(where);
}
