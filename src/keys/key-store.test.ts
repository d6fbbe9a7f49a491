// KeyStore against real SQLite and a real PostgreSQL server: the same cases on both.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../store/index.js';
import { KeyStore } from './key-store.js';
import { KEY_MIGRATIONS } from './schema.js';
import { testSecrets } from './test-support.js';
import { STORE_KINDS, type StoreLocation } from '../../test/helpers/store-kinds.js';
import { waitUntil } from '../../test/helpers/wait.js';
import type { LeakEvent } from './types.js';

for (const kind of STORE_KINDS) {
  describe(`KeyStore on ${kind.name}`, () => {
    const secrets = testSecrets();
    let where: StoreLocation;
    let keys: KeyStore;
    const leaks: LeakEvent[] = [];
    before(async () => {
      where = await kind.make();
      keys = await KeyStore.open({ store: where.location, secrets, onLeak: (e) => leaks.push(e) });
    });
    after(async () => {
      await keys?.close();
      await where?.cleanup();
    });

    it('verifies a new key and stores only a keyed hash of it', async () => {
      const { key, info } = await keys.create({ owner: 'acme', name: 'ci', scopes: ['models:read', 'chat:*'] }, { actor: 'test' });
      assert.equal(info.display, `wdn_live_…${key.slice(-4)}`);
      const check = await keys.verify(key, { scopes: ['models:read', 'chat:write'] });
      assert.deepEqual(check, { valid: true, reason: null, keyId: info.id, owner: 'acme', name: 'ci', scopes: ['models:read', 'chat:*'], expiresAt: null });
      const [row] = await keys.store.query<{ hash: string }>('SELECT hash FROM warden_keys WHERE id = ?', [info.id]);
      assert.notEqual(row!.hash, createHash('sha256').update(key).digest('hex'), 'a plain hash would let a stolen database confirm guesses');
      const dump = JSON.stringify(await keys.store.query('SELECT * FROM warden_keys')) + JSON.stringify(await keys.auditLog());
      assert.ok(!dump.includes(key) && !dump.includes(key.slice(9, 41)));
      assert.ok(!JSON.stringify(await keys.list()).includes(key));
    });

    it("answers an unknown key, a malformed one and another tenant's key identically", async () => {
      const { key } = await keys.create({ owner: 'tenant-a', name: 'x', scopes: ['models:read'] });
      const other = await keys.verify(key, { tenant: 'tenant-b' });
      const unknown = await keys.verify(key.slice(0, 9) + 'A'.repeat(32) + key.slice(41));
      const bogus = await keys.verify('not a key');
      assert.deepEqual(other, unknown);
      assert.deepEqual(other, bogus);
      assert.deepEqual(other, { valid: false, reason: 'unknown', keyId: null, owner: null, name: null, scopes: null, expiresAt: null });
      assert.equal((await keys.verify(key, { tenant: 'tenant-a' })).valid, true);
    });

    it('gives the precise reason: scope, ip, expired, revoked, rate_limited', async () => {
      const scoped = await keys.create({ owner: 'o', name: 's', scopes: ['models:read'], allowedIps: ['10.0.0.0/8', '2001:db8::/32'] });
      assert.equal((await keys.verify(scoped.key, { scopes: ['chat:write'], ip: '10.1.2.3' })).reason, 'scope');
      assert.equal((await keys.verify(scoped.key, { ip: '192.168.1.1' })).reason, 'ip');
      assert.equal((await keys.verify(scoped.key, {})).reason, 'ip', 'a range-bound key needs the client address');
      assert.equal((await keys.verify(scoped.key, { ip: '::ffff:10.9.9.9' })).valid, true);
      assert.equal((await keys.verify(scoped.key, { ip: '2001:db8::1' })).valid, true);

      const expired = await keys.create({ owner: 'o', name: 'e', scopes: ['a:b'], expiresAt: Date.now() - 1 });
      assert.equal((await keys.verify(expired.key)).reason, 'expired');

      const revoked = await keys.create({ owner: 'o', name: 'r', scopes: ['a:b'] });
      assert.equal((await keys.verify(revoked.key)).valid, true);
      await keys.revoke(revoked.info.id, 'test', { actor: 'alice', source: '127.0.0.1' });
      const r = await keys.verify(revoked.key);
      assert.equal(r.reason, 'revoked');
      assert.equal(r.keyId, revoked.info.id);

      const limited = await keys.create({ owner: 'o', name: 'l', scopes: ['a:b'], rateLimit: { limit: 3, windowMs: 60_000 } });
      const results = [];
      for (let i = 0; i < 5; i++) results.push((await keys.verify(limited.key)).reason);
      assert.deepEqual(results, [null, null, null, 'rate_limited', 'rate_limited']);
    });

    it('never lets two processes together exceed a shared quota', async () => {
      const { key, info } = await keys.create({ owner: 'o', name: 'q', scopes: ['a:b'], quota: { total: 250, perPeriod: { limit: 1000, period: 'month' } } });
      const second = await KeyStore.open({ store: where.location, secrets });
      let valid = 0;
      let exhausted = 0;
      for (let i = 0; i < 200; i++) {
        for (const ks of [keys, second]) {
          const r = await ks.verify(key);
          if (r.valid) valid++;
          else if (r.reason === 'quota_exhausted') exhausted++;
        }
      }
      await second.close();
      assert.ok(valid <= 250, `${valid} requests passed a quota of 250`);
      assert.ok(valid >= 250 - 2 * 100, 'leases returned on close must not strand most of the quota');
      assert.equal(valid + exhausted, 400);
      const shown = await keys.show(info.id);
      assert.ok(shown.quota!.used <= 250);
    });

    it('answers from the cache synchronously, and leaves the store to verify without counting a use twice', async () => {
      const { key } = await keys.create({ owner: 'o', name: 'sync', scopes: ['a:b'], rateLimit: { limit: 5, windowMs: 60_000 }, quota: { total: 3 } });
      assert.equal(keys.verifyCached('wdn_live_not-a-key'), await keys.verify('wdn_live_not-a-key'), 'a malformed key needs no store');
      assert.equal(keys.verifyCached(key), undefined, 'not cached yet: the store must be asked');
      const reasons: Array<string | null> = [];
      for (let i = 0; i < 5; i++) {
        // The synchronous answer where the cache has one, else the store's: as a gateway calls it.
        const r = keys.verifyCached(key, { scopes: ['a:b'] }) ?? (await keys.verify(key, { scopes: ['a:b'] }));
        reasons.push(r.reason);
      }
      // Quota 3 and rate 5: three pass, then the quota, never the rate limit, refuses.
      assert.deepEqual(reasons, [null, null, null, 'quota_exhausted', 'quota_exhausted']);
      assert.equal(keys.verifyCached(key, { scopes: ['x:y'] })?.reason, 'scope', 'a cached key answers a refusal without I/O');
    });

    it('rotates with an overlap after which the old key stops by itself', async () => {
      const old = await keys.create({ owner: 'o', name: 'rot', scopes: ['models:read'], rateLimit: { limit: 100, windowMs: 60_000 } });
      const next = await keys.rotate(old.info.id, { overlapMs: 400 }, { actor: 'bob' });
      assert.equal(next.previous.status, 'rotating');
      assert.equal(next.previous.rotatedTo, next.info.id);
      assert.deepEqual(next.info.rateLimit, { limit: 100, windowMs: 60_000 });
      assert.equal((await keys.verify(old.key)).valid, true);
      assert.equal((await keys.verify(next.key)).valid, true);
      await new Promise((r) => setTimeout(r, 450));
      assert.equal((await keys.verify(old.key)).reason, 'revoked');
      assert.equal((await keys.verify(next.key)).valid, true);
      await assert.rejects(keys.rotate(old.info.id), /revoked/);
    });

    it('records last use in batches, not per request', async () => {
      const { key, info } = await keys.create({ owner: 'o', name: 'use', scopes: ['a:b'] });
      await keys.verify(key, { ip: '127.0.0.9' });
      assert.equal((await keys.show(info.id)).lastUsedAt, null);
      await keys.flushLastUsed();
      const shown = await keys.show(info.id);
      assert.ok(shown.lastUsedAt !== null);
      assert.equal(shown.lastUsedIp, '127.0.0.9');
    });

    it('identifies a key by token without using it, even one granted every scope', async () => {
      const { key, info } = await keys.create({ owner: 'o', name: 'leaked', scopes: ['*'], quota: { total: 5 } });
      const found = await keys.identify(key);
      assert.equal(found?.id, info.id);
      assert.equal(found?.owner, 'o');
      await keys.flushLastUsed();
      const after = await keys.show(info.id);
      assert.equal(after.lastUsedAt, null);
      assert.equal(after.quota?.used, 0);
      assert.equal(await keys.identify(key.slice(0, 9) + 'A'.repeat(32) + key.slice(41)), null);
      assert.equal(await keys.identify('not a key'), null);
    });

    it('keeps an append-only audit log of who did what', async () => {
      const { info } = await keys.create({ owner: 'o', name: 'audited', scopes: ['a:b'] }, { actor: 'carol', source: '10.0.0.5' });
      await keys.update(info.id, { scopes: ['a:c'] }, { actor: 'carol' });
      await keys.revoke(info.id, 'done', { actor: 'dave' });
      const log = await keys.auditLog({ keyId: info.id });
      assert.deepEqual(
        log.map((e) => [e.actor, e.action]),
        [
          ['carol', 'create'],
          ['carol', 'update'],
          ['dave', 'revoke'],
        ],
      );
      assert.equal(log[0]!.source, '10.0.0.5');
      await assert.rejects(keys.store.run('UPDATE warden_key_audit SET actor = ?', ['mallory']), /append-only/);
      await assert.rejects(keys.store.run('DELETE FROM warden_key_audit'), /append-only/);
    });

    it("acts on leak reports by each key's policy, once per report", async () => {
      const revokeMe = await keys.create({ owner: 'o', name: 'leak-r', scopes: ['a:b'] });
      const disableMe = await keys.create({ owner: 'o', name: 'leak-d', scopes: ['a:b'], leakPolicy: 'disable' });
      const notifyMe = await keys.create({ owner: 'o', name: 'leak-n', scopes: ['a:b'], leakPolicy: 'notify' });
      const reports = [
        { token: revokeMe.key, url: 'https://example.invalid/a', source: 'commit' },
        { token: disableMe.key, url: 'https://example.invalid/b' },
        { token: notifyMe.key, url: 'https://example.invalid/c' },
        { token: 'wdn_live_' + 'x'.repeat(38), url: 'https://example.invalid/d' },
      ];
      const first = await keys.reportLeaks(reports, 'github');
      assert.deepEqual(
        first.map((o) => [o.label, o.action]),
        [
          ['true_positive', 'revoke'],
          ['true_positive', 'disable'],
          ['true_positive', 'notify'],
          ['false_positive', null],
        ],
      );
      assert.equal((await keys.verify(revokeMe.key)).reason, 'revoked');
      assert.equal((await keys.verify(disableMe.key)).reason, 'disabled');
      assert.equal((await keys.verify(notifyMe.key)).valid, true);
      const again = await keys.reportLeaks(reports, 'github');
      assert.deepEqual(
        again.map((o) => [o.label, o.action]),
        [
          ['true_positive', null],
          ['true_positive', null],
          ['true_positive', null],
          ['false_positive', null],
        ],
      );
      assert.equal(leaks.length, 3);
      assert.deepEqual(
        leaks.map((e) => e.action),
        ['revoke', 'disable', 'notify'],
      );
      const log = await keys.auditLog({ keyId: revokeMe.info.id });
      assert.deepEqual(
        log.map((e) => e.action),
        ['create', 'leak-reported', 'revoke'],
      );
      assert.ok(!JSON.stringify(log).includes(revokeMe.key));
      await keys.enable(disableMe.info.id);
      assert.equal((await keys.verify(disableMe.key)).valid, true);
    });

    it('stops a key in another process within a second of its revocation', async () => {
      const other = await KeyStore.open({ store: where.location, secrets });
      const { key, info } = await keys.create({ owner: 'o', name: 'propagate', scopes: ['a:b'] });
      assert.equal((await other.verify(key)).valid, true, 'the other process caches the key as valid');
      const revokedAt = Date.now();
      await keys.revoke(info.id, 'propagation test');
      const stopped = await waitUntil(async () => !(await other.verify(key)).valid, 1000, 5);
      const took = Date.now() - revokedAt;
      await other.close();
      assert.ok(stopped, `still valid ${took} ms after revocation`);
    });

    it('verifies by id the key as it is now, after another process changes it', async () => {
      const other = await KeyStore.open({ store: where.location, secrets });
      const { key, info } = await keys.create({ owner: 'o', name: 'session', scopes: ['serve:read', 'serve:admin'], allowedIps: ['127.0.0.1'] });
      assert.equal((await keys.verify(key, { ip: '127.0.0.1' })).valid, true, 'the key is cached as valid by token');
      const admin = { scopes: ['serve:admin'], ip: '127.0.0.1' };
      assert.deepEqual(await keys.verifyById(info.id, admin), await keys.verify(key, admin));
      assert.equal((await keys.verifyById(info.id, { ...admin, ip: '127.0.0.100' })).reason, 'ip');
      assert.equal((await keys.verifyById(info.id, { scopes: ['serve:admin'] })).reason, 'ip', 'a range-bound key needs the client address');
      await other.update(info.id, { scopes: ['serve:read'] });
      assert.ok(await waitUntil(async () => (await keys.verifyById(info.id, admin)).reason === 'scope', 1000, 5), 'the lost scope is refused');
      assert.equal((await keys.verifyById(info.id, { scopes: ['serve:read'], ip: '127.0.0.1' })).valid, true);
      await other.revoke(info.id, 'session test');
      assert.ok(await waitUntil(async () => (await keys.verifyById(info.id, { ip: '127.0.0.1' })).reason === 'revoked', 1000, 5));
      assert.equal((await keys.verifyById('no-such-id')).reason, 'unknown');
      await other.close();
    });

    it('trusts a cached key no longer than the staleness bound when it hears nothing', async () => {
      const deaf = await KeyStore.open({ store: where.location, secrets, notifications: false, maxStalenessMs: 300 });
      const { key, info } = await keys.create({ owner: 'o', name: 'stale', scopes: ['a:b'] });
      assert.equal((await deaf.verify(key)).valid, true);
      await keys.revoke(info.id, 'staleness test');
      assert.equal((await deaf.verify(key)).valid, true, 'within the bound the cached answer stands');
      await new Promise((r) => setTimeout(r, 320));
      assert.equal((await deaf.verify(key)).reason, 'revoked');
      await deaf.close();
    });

    it('migrates once when several processes open the same store', async () => {
      const stores = await Promise.all([1, 2, 3].map(() => KeyStore.open({ store: openStore(where.location), secrets, notifications: false })));
      for (const s of stores) {
        await s.close();
        await s.store.close();
      }
      const [row] = await keys.store.query<{ n: number }>("SELECT COUNT(*) AS n FROM warden_migrations WHERE capability = 'keys'");
      assert.equal(Number(row!.n), KEY_MIGRATIONS.length);
    });
  });
}
