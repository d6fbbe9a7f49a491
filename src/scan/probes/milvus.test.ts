// Milvus is not packaged by Debian: these tests run against test/servers/milvus.ts, written from Milvus's
// documented RESTful API v2. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestMilvus } from '../../../test/servers/milvus.js';
import { milvusProbe } from './milvus.js';

const READ_ONLY = /^POST \/v2\/vectordb\/collections\/(list|get_stats)$/;

describe('milvus probe', () => {
  let open: TestApi;
  let locked: TestApi;
  let lockedDefault: TestApi;
  before(async () => {
    const collections = { rag_chunks: 40210, faq: 12 };
    open = await startTestMilvus({ mode: 'open', collections, port: 29530 });
    locked = await startTestMilvus({ mode: 'locked', collections, login: 'root:a-real-password' });
    lockedDefault = await startTestMilvus({ mode: 'locked', collections, login: 'root:Milvus' });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close(), lockedDefault?.close()]);
  });

  it('fingerprints Milvus on a non-default port, open and locked', async () => {
    assert.deepEqual(await milvusProbe.fingerprint(probeContext(open.port)), { service: 'milvus' });
    assert.deepEqual(await milvusProbe.fingerprint(probeContext(locked.port)), { service: 'milvus', details: { authRequired: true } });
  });

  it('reports an open Milvus as high with collections and row counts, querying no entity', async () => {
    const ctx = probeContext(open.port);
    const a = await milvusProbe.assess(ctx, (await milvusProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'default',
        tables: [
          { name: 'rag_chunks', rows: 40210 },
          { name: 'faq', rows: 12 },
        ],
      },
    ]);
    assert.ok(open.requests.every((r) => READ_ONLY.test(r)));
  });

  it('reports authorisation on as requiring authentication, trying root only with --default-credentials', async () => {
    const a = await milvusProbe.assess(probeContext(lockedDefault.port), { service: 'milvus' });
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    const opts = { maxLevel: 'default-credentials' as const, defaultCredentials: true };
    const d = await milvusProbe.assess(probeContext(lockedDefault.port, opts), { service: 'milvus' });
    assert.equal(d.auth, 'default-credentials');
    assert.equal(d.evidence.credentialsAccepted, 'root:published default password');
    assert.equal(d.evidence.databases?.[0]?.tables.length, 2);
    assert.doesNotMatch(JSON.stringify(d), /Milvus"|root:Milvus/);
    assert.equal((await milvusProbe.assess(probeContext(locked.port, opts), { service: 'milvus' })).auth, 'required');
  });

  itFindsNothingOnHostilePeers(milvusProbe, () => startTestMilvus({ mode: 'garbage' }));
});
