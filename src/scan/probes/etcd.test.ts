// Runs against a real etcd (Debian's etcd-server, started per suite on chosen ports); the locked variant
// has a root user and auth enabled through etcdctl. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { chatLogWithKey, probeContext } from '../../../test/helpers/probe-context.js';
import { startTestEtcd, type TestEtcd } from '../../../test/helpers/etcd.js';
import { etcdProbe } from './etcd.js';

describe('etcd probe', () => {
  let open: TestEtcd;
  let locked: TestEtcd;
  before(async () => {
    [open, locked] = await Promise.all([
      startTestEtcd({ clientPort: 23791, peerPort: 23801 }),
      startTestEtcd({ clientPort: 23792, peerPort: 23802, rootPassword: 'not-a-default-pw' }),
    ]);
    await open.ctl('put', '/registry/secrets/default/llm-gateway', chatLogWithKey(3));
    await open.ctl('put', '/config/feature-flags', '{"beta":true}');
    await locked.ctl('put', '/config/feature-flags', '{"beta":true}');
  });
  after(async () => {
    await open?.stop();
    await locked?.stop();
  });

  it('fingerprints etcd on a non-default port', async () => {
    const fp = await etcdProbe.fingerprint(probeContext(open.port));
    assert.equal(fp?.service, 'etcd');
    assert.match(fp?.version ?? '', /^3\./);
  });

  it('reports an open etcd as high with key and Kubernetes Secret counts, reading no value', async () => {
    const revision = () => open.ctl('endpoint', 'status', '-w', 'json').then((out) => JSON.parse(out)[0].Status.header.revision);
    const revisionBefore = await revision();
    const ctx = probeContext(open.port);
    const a = await etcdProbe.assess(ctx, (await etcdProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases?.[0]?.tables, [
      { name: 'keys', rows: 2 },
      { name: '/registry/secrets/', rows: 1 },
    ]);
    assert.match(a.reproduce ?? '', /^curl -s -X POST http:\/\/127\.0\.0\.1:23791\/v3\/kv\/range .*"count_only":true/);
    assert.equal(await revision(), revisionBefore);
  });

  it('with --sample counts credentials in values without keeping them', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await etcdProbe.assess(ctx, (await etcdProbe.fingerprint(ctx))!);
    assert.equal(a.severity, 'critical');
    const keys = a.evidence.databases?.[0]?.tables[0];
    assert.equal(keys?.sampledRows, 2);
    assert.deepEqual(keys?.credentials, { total: 1, byRule: { 'openai-project-key': 1 } });
    assert.doesNotMatch(JSON.stringify(a), /sk-proj-/);
  });

  it('reports an etcd with auth enabled as requiring authentication', async () => {
    const ctx = probeContext(locked.port, { maxLevel: 'sample', sample: 5 });
    const fp = await etcdProbe.fingerprint(ctx);
    assert.equal(fp?.service, 'etcd');
    const a = await etcdProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.equal(a.evidence.databases, undefined);
  });

  itFindsNothingOnHostilePeers(etcdProbe);
});
