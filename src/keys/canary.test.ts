// Canary keys on real SQLite and a real PostgreSQL server: refused like revoked keys, every use recorded.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../store/index.js';
import { parseKey } from './format.js';
import { KeyStore } from './key-store.js';
import { testSecrets } from './test-support.js';
import { STORE_KINDS, type StoreLocation } from '../../test/helpers/store-kinds.js';
import { waitUntil } from '../../test/helpers/wait.js';

for (const kind of STORE_KINDS) {
  describe(`canary keys on ${kind.name}`, () => {
    const secrets = testSecrets();
    let where: StoreLocation;
    let keys: KeyStore;
    /** Another process's key store on the same data, as the gateway would hold. */
    let gateway: KeyStore;

    before(async () => {
      where = await kind.make();
      keys = await KeyStore.open({ store: openStore(where.location), secrets });
      gateway = await KeyStore.open({ store: openStore(where.location), secrets });
    });
    after(async () => {
      await gateway.close();
      await gateway.store.close();
      await keys.close();
      await keys.store.close();
      await where.cleanup();
    });

    it('looks like a live key and answers exactly like a revoked key of the same owner and name', async () => {
      const canary = await keys.createCanary({ where: 'staging .env' });
      const parsed = parseKey(canary.key);
      assert.deepEqual(parsed, { prefix: 'wdn', env: 'live' }, 'prefix, environment and checksum of a live key');
      const real = await keys.create({ owner: 'svc-analytics', name: 'reporting', scopes: ['clickhouse:read'] });
      await keys.revoke(real.info.id, 'gone');
      const asCanary = await gateway.verify(canary.key, { ip: '198.51.100.7', scopes: ['clickhouse:read'], via: 'gateway' });
      const asRevoked = await gateway.verify(real.key, { ip: '198.51.100.7', scopes: ['clickhouse:read'], via: 'gateway' });
      assert.deepEqual({ ...asCanary, keyId: null }, { ...asRevoked, keyId: null });
      assert.equal(asCanary.reason, 'revoked');
      // Cached answers trip too, with no I/O on the hot path.
      assert.equal(gateway.verifyCached(canary.key, { ip: '203.0.113.9' })?.reason, 'revoked');
    });

    it('records each use once per address and route in the fold window, and announces it to another process', async () => {
      const { key, info } = await keys.createCanary({ where: 'analytics ClickHouse request_log' });
      await gateway.verify(key, { ip: '192.0.2.10', userAgent: 'curl/8.5', route: 'GET ch.internal/', via: 'gateway' });
      for (let i = 0; i < 50; i++) gateway.verifyCached(key, { ip: '192.0.2.10', route: 'GET ch.internal/', via: 'gateway' });
      await gateway.verify(key, { ip: '192.0.2.11', route: 'GET ch.internal/', via: 'authz' });
      await gateway.canaries.settled();
      // Two writes in flight may commit in either order; the trips are compared by address.
      const trips = (await keys.canaries.pendingTrips()).filter((t) => t.keyId === info.id).sort((a, b) => String(a.ip).localeCompare(String(b.ip)));
      assert.deepEqual(
        trips.map((t) => [t.ip, t.userAgent, t.route, t.via, t.where]),
        [
          ['192.0.2.10', 'curl/8.5', 'GET ch.internal/', 'gateway', 'analytics ClickHouse request_log'],
          ['192.0.2.11', null, 'GET ch.internal/', 'authz', 'analytics ClickHouse request_log'],
        ],
      );
      assert.equal(await keys.canaries.claimTrip(trips[0]!.seq), true);
      assert.equal(await gateway.canaries.claimTrip(trips[0]!.seq), false, 'a trip is handled once, by whichever process claims it');
      const listed = (await keys.canaries.list()).find((c) => c.id === info.id)!;
      assert.equal(listed.uses, 2);
      // Both uses may fall in one millisecond; either is then the newest.
      assert.ok(['192.0.2.10', '192.0.2.11'].includes(String(listed.lastSeenIp)));
    });

    it('a leak report of a canary is a trip, not a revocation; canaries cannot be rotated and are not listed as keys', async () => {
      const { key, info } = await keys.createCanary({ where: 'public image layer' });
      const [outcome] = await keys.reportLeaks([{ token: key, url: 'https://github.com/acme/app/blob/main/.env' }], 'github');
      assert.equal(outcome?.label, 'true_positive');
      assert.equal(outcome?.action, null);
      await keys.canaries.settled();
      assert.ok(await waitUntil(async () => (await keys.canaries.pendingTrips()).some((t) => t.keyId === info.id && t.via === 'leak-report:github'), 2000));
      assert.equal((await keys.show(info.id)).status, 'canary');
      assert.equal(
        (await keys.list()).some((k) => k.id === info.id),
        false,
      );
      await assert.rejects(keys.rotate(info.id), /is a canary/);
      await assert.rejects(keys.createCanary({ where: ' ' }), /where must be/);
    });
  });
}
