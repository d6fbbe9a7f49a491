// The one behaviour every store must show, run against real SQLite (sqlite.test.ts) and a real
// PostgreSQL server (postgres.test.ts). Each runner supplies fresh stores that share one database.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitUntil } from '../../test/helpers/wait.js';
import type { Migration, Store } from './types.js';

export interface StoreFixture {
  /** A new connection to the same database, as a second process would open it. */
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

const NOTES: Migration[] = [
  { version: 1, name: 'notes', sql: 'CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL, at BIGINT NOT NULL)' },
  {
    version: 2,
    name: 'notes-tag',
    sql: { sqlite: 'ALTER TABLE notes ADD COLUMN tag TEXT', postgres: 'ALTER TABLE notes ADD COLUMN IF NOT EXISTS tag TEXT' },
  },
];

export function storeContract(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    let a: Store;
    let b: Store;
    before(async () => {
      fixture = await makeFixture();
      a = await fixture.open();
      b = await fixture.open();
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await fixture?.cleanup();
    });

    it('applies each migration once, even when two connections migrate together', async () => {
      await Promise.all([a.migrate('notes', NOTES), b.migrate('notes', NOTES)]);
      await a.migrate('notes', NOTES);
      const ledger = await a.query<{ version: number }>('SELECT version FROM warden_migrations WHERE capability = ? ORDER BY version', ['notes']);
      assert.deepEqual(
        ledger.map((r) => r.version),
        [1, 2],
      );
    });

    it('round-trips text, integers beyond 32 bits and nulls with ? placeholders', async () => {
      const at = 1_760_000_000_123;
      assert.equal(await a.run('INSERT INTO notes (id, body, at, tag) VALUES (?, ?, ?, ?)', ['n1', 'héllo', at, null]), 1);
      const rows = await b.query<{ id: string; body: string; at: number; tag: string | null }>('SELECT id, body, at, tag FROM notes WHERE id = ?', ['n1']);
      assert.deepEqual(rows, [{ id: 'n1', body: 'héllo', at, tag: null }]);
      assert.equal(typeof rows[0]!.at, 'number');
    });

    it('rolls a failed transaction back and commits a good one', async () => {
      await assert.rejects(
        a.transaction(async (tx) => {
          await tx.run('INSERT INTO notes (id, body, at) VALUES (?, ?, ?)', ['n2', 'x', 1]);
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal((await a.query('SELECT id FROM notes WHERE id = ?', ['n2'])).length, 0);
      await a.transaction(async (tx) => {
        await tx.run('INSERT INTO notes (id, body, at) VALUES (?, ?, ?)', ['n3', 'y', 2]);
        assert.equal((await tx.query('SELECT id FROM notes WHERE id = ?', ['n3'])).length, 1);
      });
      assert.equal((await b.query('SELECT id FROM notes WHERE id = ?', ['n3'])).length, 1);
    });

    it('serialises concurrent read-modify-write transactions', async () => {
      await a.run('INSERT INTO notes (id, body, at) VALUES (?, ?, ?)', ['counter', '0', 0]);
      const bump = (s: Store) =>
        s.transaction(async (tx) => {
          await tx.run('UPDATE notes SET at = at + 1 WHERE id = ?', ['counter']);
        });
      await Promise.all([...Array(10)].flatMap(() => [bump(a), bump(b)]));
      const [row] = await a.query<{ at: number }>('SELECT at FROM notes WHERE id = ?', ['counter']);
      assert.equal(row!.at, 20);
    });

    it('delivers a change published by one connection to a subscriber on another', async () => {
      const heard: string[] = [];
      const sub = await b.subscribe('notes_changed', { onMessage: (p) => heard.push(p) });
      await a.publish('notes_changed', 'n1');
      await a.publish('other_topic', 'ignored');
      assert.ok(await waitUntil(() => heard.includes('n1'), 1000, 20), 'notification not delivered within 1 s');
      assert.ok(!heard.includes('ignored'));
      await sub.close();
    });

    it('refuses topics that are not plain names', async () => {
      await assert.rejects(a.publish('bad topic; drop', 'x'));
    });
  });
}
