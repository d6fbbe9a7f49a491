import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { SqliteStore } from './sqlite.js';
import { storeContract } from './store.contract.js';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  const path = join(dir, 'nested', 'warden.db');
  return {
    open: async () => new SqliteStore(path),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

it('sqlite: creates the file on first use, readable by its owner only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-store-'));
  const path = join(dir, 'a', 'b.db');
  const store = new SqliteStore(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
