// Cassandra is not packaged by Debian: these tests run against test/servers/cassandra.ts, written from the
// CQL native protocol v4 specification. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { startTestCassandra, type TestCassandra } from '../../../test/servers/cassandra.js';
import { cassandraProbe } from './cassandra.js';

const keyspaces = { gateway: ['chat_logs', 'api_keys'] };

describe('cassandra probe', () => {
  let open: TestCassandra;
  let locked: TestCassandra;
  let lockedDefault: TestCassandra;
  before(async () => {
    open = await startTestCassandra({ mode: 'open', keyspaces, port: 19042 });
    locked = await startTestCassandra({ mode: 'locked', keyspaces, credentials: 'admin:a-real-password' });
    lockedDefault = await startTestCassandra({ mode: 'locked', keyspaces, credentials: 'cassandra:cassandra' });
  });
  after(async () => {
    await Promise.all([open, locked, lockedDefault].map((s) => s?.close()));
  });

  it('fingerprints Cassandra with OPTIONS on a non-default port', async () => {
    const fp = await cassandraProbe.fingerprint(probeContext(open.port));
    assert.deepEqual(fp, { service: 'cassandra', version: '3.4.5', details: { cqlVersion: '3.4.5', protocols: '3/v3 4/v4' } });
  });

  it('reports a server without authenticator as high with keyspaces and tables, querying no user table', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await cassandraProbe.assess(ctx, (await cassandraProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [{ name: 'gateway', tables: [{ name: 'chat_logs' }, { name: 'api_keys' }] }]);
    assert.deepEqual(open.queries, ['SELECT keyspace_name, table_name FROM system_schema.tables']);
    assert.equal(a.reproduce, "cqlsh 127.0.0.1 19042 -e 'DESCRIBE KEYSPACES'");
  });

  it('reports PasswordAuthenticator as auth required, trying no login without --default-credentials', async () => {
    const ctx = probeContext(lockedDefault.port);
    const a = await cassandraProbe.assess(ctx, (await cassandraProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.match(a.evidence.notes.join(' '), /PasswordAuthenticator/);
    assert.deepEqual(lockedDefault.queries, []);
  });

  it('with --default-credentials reports the cassandra superuser, and not a server with its own password', async () => {
    const opts = { maxLevel: 'default-credentials' as const, defaultCredentials: true };
    const a = await cassandraProbe.assess(probeContext(lockedDefault.port, opts), { service: 'cassandra' });
    assert.equal(a.auth, 'default-credentials');
    assert.equal(a.evidence.credentialsAccepted, 'cassandra:published default password');
    assert.equal(a.reproduce, `cqlsh 127.0.0.1 ${lockedDefault.port} -u cassandra -e 'DESCRIBE KEYSPACES'`);
    assert.equal(a.evidence.databases?.[0]?.name, 'gateway');
    const refused = await cassandraProbe.assess(probeContext(locked.port, opts), { service: 'cassandra' });
    assert.equal(refused.auth, 'required');
  });

  itFindsNothingOnHostilePeers(cassandraProbe, () => startTestCassandra({ mode: 'garbage' }));
});
