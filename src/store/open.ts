import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
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

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, uniquely named PostgreSQL database for one test run (or benchmark), dropped afterwards.
 * `adminUrl` defaults to WARDEN_TEST_POSTGRES or the machine's trust-auth server.
 */
export async function createScratchDatabase(adminUrl = process.env.WARDEN_TEST_POSTGRES || 'postgres://postgres@127.0.0.1:5432/postgres'): Promise<ScratchDatabase> {
  const name = `warden_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
