/**
 * Test and benchmark helper: a fresh, uniquely named database on each engine, dropped afterwards.
 * PostgreSQL and MariaDB are the machine's trust-auth servers; ClickHouse is a child process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { TestClickHouse } from './clickhouse.js';

export interface ScratchDatabase {
  /** Connection string without a password. */
  url: string;
  drop(): Promise<void>;
}

const uniqueName = () => `warden_test_${randomBytes(6).toString('hex')}`;

/** A PostgreSQL database; `adminUrl` defaults to WARDEN_TEST_POSTGRES or the machine's trust-auth server. */
export async function createScratchDatabase(
  adminUrl = process.env.WARDEN_TEST_POSTGRES || 'postgres://postgres@127.0.0.1:5432/postgres',
): Promise<ScratchDatabase> {
  const name = uniqueName();
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

export async function scratchMariaDb(): Promise<ScratchDatabase> {
  const name = uniqueName();
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: `mysql://root@127.0.0.1:3306/${name}`,
    async drop() {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    },
  };
}

export function scratchSqlite(): ScratchDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'warden-sqlite-'));
  const path = join(dir, 'logs.db');
  writeFileSync(path, '');
  return { url: `sqlite://${path}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A database inside a running test ClickHouse. */
export async function scratchClickHouse(server: TestClickHouse): Promise<ScratchDatabase> {
  const name = uniqueName();
  await server.query(`CREATE DATABASE ${name}`);
  return { url: `clickhouse://default@127.0.0.1:${server.httpPort}/${name}`, drop: async () => void (await server.query(`DROP DATABASE IF EXISTS ${name}`)) };
}
