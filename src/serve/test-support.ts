// Shared by this folder's tests and bench/serve: the two real stores to run against, and finding fixtures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../scan/index.js';
import { createScratchDatabase } from '../store/index.js';
import type { Severity } from '../detect/index.js';

export interface StoreLocation {
  /** A SQLite file in a fresh folder, or a scratch PostgreSQL database. */
  location: string;
  cleanup(): Promise<void>;
}

export const STORE_KINDS: Array<{ name: 'sqlite' | 'postgres'; make(): Promise<StoreLocation> }> = [
  {
    name: 'sqlite',
    async make() {
      const dir = mkdtempSync(join(tmpdir(), 'warden-serve-'));
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

/** Debian's chromium, headless, with nothing that reaches beyond loopback. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** A finding as the scanner reports one, for tests that exercise history without a network. */
export function syntheticFinding(host: string, port: number, severity: Severity = 'high', notes: string[] = []): Finding {
  return {
    id: `redis:${host}:${port}`,
    host,
    port,
    service: 'redis',
    probe: 'redis',
    title: 'Redis answers without authentication',
    auth: 'none',
    severity,
    evidence: { version: '7.0.15', databases: [{ name: 'db0', tables: [{ name: 'keys', rows: 12 }] }], notes },
    reproduce: `redis-cli -h ${host} -p ${port} INFO`,
    remediation: 'Set requirepass or ACL users and bind to a private address.',
  };
}
