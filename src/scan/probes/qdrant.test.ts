// Qdrant is not packaged by Debian: these tests run against test/servers/qdrant.ts, written from Qdrant's
// documented REST API. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestQdrant } from '../../../test/servers/qdrant.js';
import { qdrantProbe } from './qdrant.js';

describe('qdrant probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    const collections = { 'support-chats': 12840, docs: 310 };
    open = await startTestQdrant({ mode: 'open', collections, port: 16333 });
    locked = await startTestQdrant({ mode: 'locked', collections });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints Qdrant on a non-default port', async () => {
    assert.deepEqual(await qdrantProbe.fingerprint(probeContext(open.port)), { service: 'qdrant', version: '1.12.5' });
  });

  it('reports an open Qdrant as high with collections and point counts, reading no point', async () => {
    const ctx = probeContext(open.port, { maxLevel: 'sample', sample: 5 });
    const a = await qdrantProbe.assess(ctx, (await qdrantProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'collections',
        tables: [
          { name: 'support-chats', rows: 12840 },
          { name: 'docs', rows: 310 },
        ],
      },
    ]);
    assert.ok(open.requests.every((r) => r.startsWith('GET ') && !/points|snapshots/.test(r)));
  });

  it('reports a Qdrant with an API key as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const a = await qdrantProbe.assess(ctx, (await qdrantProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(qdrantProbe, () => startTestQdrant({ mode: 'garbage' }));
});
