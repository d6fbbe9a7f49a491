// Weaviate is not packaged by Debian: these tests run against test/servers/weaviate.ts, written from Weaviate's
// documented REST and GraphQL APIs. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestWeaviate } from '../../../test/servers/weaviate.js';
import { weaviateProbe } from './weaviate.js';

describe('weaviate probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    const classes = { ChatMessage: 5020, Document: 77 };
    open = await startTestWeaviate({ mode: 'open', classes, port: 18180 });
    locked = await startTestWeaviate({ mode: 'locked', classes });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints Weaviate on a non-default port', async () => {
    assert.deepEqual(await weaviateProbe.fingerprint(probeContext(open.port)), { service: 'weaviate', version: '1.27.2' });
  });

  it('reports anonymous access as high with classes and object counts, fetching no object', async () => {
    const ctx = probeContext(open.port);
    const a = await weaviateProbe.assess(ctx, (await weaviateProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'classes',
        tables: [
          { name: 'ChatMessage', rows: 5020 },
          { name: 'Document', rows: 77 },
        ],
      },
    ]);
    assert.ok(open.requests.every((r) => r.startsWith('GET /v1/meta') || r.startsWith('GET /v1/schema') || r === 'POST /v1/graphql'));
  });

  it('reports anonymous access disabled as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const fp = await weaviateProbe.fingerprint(ctx);
    assert.deepEqual(fp, { service: 'weaviate', details: { authRequired: true } });
    const a = await weaviateProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(weaviateProbe, () => startTestWeaviate({ mode: 'garbage' }));
});
