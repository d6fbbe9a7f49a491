// The machine's RabbitMQ runs without the management plugin (enabling it would open a listener on every
// interface), so these tests use test/servers/rabbitmq-management.ts, written from the documented HTTP API.
// Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestRabbitManagement } from '../../../test/servers/rabbitmq-management.js';
import { rabbitmqManagementProbe } from './rabbitmq-management.js';

describe('rabbitmq management probe', () => {
  let guestAllowed: TestApi;
  let locked: TestApi;
  before(async () => {
    guestAllowed = await startTestRabbitManagement({ mode: 'locked', login: 'guest:guest', port: 25673 });
    locked = await startTestRabbitManagement({ mode: 'locked', login: 'ops:a-real-password' });
  });
  after(async () => {
    await Promise.all([guestAllowed?.close(), locked?.close()]);
  });

  it('fingerprints the management API by its realm on a non-default port', async () => {
    assert.deepEqual(await rabbitmqManagementProbe.fingerprint(probeContext(guestAllowed.port)), {
      service: 'rabbitmq',
      details: { product: 'RabbitMQ management API' },
    });
  });

  it('reports auth required without --default-credentials, sending no password', async () => {
    const a = await rabbitmqManagementProbe.assess(probeContext(guestAllowed.port), { service: 'rabbitmq' });
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.ok(guestAllowed.requests.every((r) => r === 'GET /api/overview'));
  });

  it('with --default-credentials reports guest/guest as medium with totals and vhosts, noting the loopback rule', async () => {
    const opts = { maxLevel: 'default-credentials' as const, defaultCredentials: true };
    const a = await rabbitmqManagementProbe.assess(probeContext(guestAllowed.port, opts), { service: 'rabbitmq' });
    assert.equal(a.auth, 'default-credentials');
    assert.equal(a.severity, 'medium');
    assert.equal(a.evidence.version, '3.13.7');
    assert.deepEqual(a.evidence.privileges, ['tag administrator']);
    assert.ok(a.evidence.notes.includes('5 queues, 9 exchanges, 2 connections, 4 channels, 3 consumers'));
    assert.deepEqual(a.evidence.databases, [{ name: 'vhosts', tables: [{ name: '/' }, { name: 'llm-jobs' }] }]);
    assert.match(a.evidence.notes.join(), /over loopback/);
    assert.equal((await rabbitmqManagementProbe.assess(probeContext(locked.port, opts), { service: 'rabbitmq' })).auth, 'required');
  });

  itFindsNothingOnHostilePeers(rabbitmqManagementProbe, () => startTestRabbitManagement({ mode: 'garbage' }));
});
