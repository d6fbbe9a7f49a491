/** The two real stores Warden's own state runs on, for tests and benchmarks that run against each. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScratchDatabase } from './scratch-databases.js';

export interface StoreLocation {
  /** Where every store in this run opens: a SQLite file in a fresh folder or a scratch PostgreSQL database. */
  location: string;
  cleanup(): Promise<void>;
}

export const STORE_KINDS: Array<{ name: 'sqlite' | 'postgres'; make(): Promise<StoreLocation> }> = [
  {
    name: 'sqlite',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
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
