// Shared by this folder's tests: a fresh hashing secret and the two real stores to run against.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase } from '../store/index.js';
import { parseKeySecrets, type KeySecrets } from './secret.js';

export function testSecrets(): KeySecrets {
  return parseKeySecrets(`1:${randomBytes(32).toString('base64')}`, 'test', (s) => Buffer.from(s, 'base64'));
}

export interface StoreLocation {
  /** Where every store in this run opens: a SQLite file or a scratch PostgreSQL database. */
  location: string;
  cleanup(): Promise<void>;
}

export const STORE_KINDS: Array<{ name: string; make(): Promise<StoreLocation> }> = [
  {
    name: 'sqlite',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'warden-keys-'));
      return { location: join(dir, 'warden.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    async make() {
      const db = await createScratchDatabase();
      return { location: db.url, cleanup: () => db.drop() };
    },
  },
];

export async function waitUntil(check: () => boolean | Promise<boolean>, ms: number, stepMs = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}
