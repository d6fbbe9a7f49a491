// Chroma is not packaged by Debian: these tests run against test/servers/chroma.ts, written from Chroma's
// documented REST API (v2). Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestChroma } from '../../../test/servers/chroma.js';
import { chromaProbe } from './chroma.js';

describe('chroma probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    const collections = { 'chat-history': 920, kb: 48 };
    open = await startTestChroma({ mode: 'open', collections, port: 18800 });
    locked = await startTestChroma({ mode: 'locked', collections });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints Chroma by its heartbeat on a non-default port', async () => {
    assert.deepEqual(await chromaProbe.fingerprint(probeContext(open.port)), { service: 'chroma', version: '1.0.0', details: { api: 'v2' } });
  });

  it('reports an open Chroma as high with collections and counts, fetching no document', async () => {
    const ctx = probeContext(open.port);
    const a = await chromaProbe.assess(ctx, (await chromaProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'default_database',
        tables: [
          { name: 'chat-history', rows: 920 },
          { name: 'kb', rows: 48 },
        ],
      },
    ]);
    assert.ok(open.requests.every((r) => r.startsWith('GET ') && !/\/(get|query)$/.test(r)));
  });

  it('reports a Chroma with an auth provider as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const a = await chromaProbe.assess(ctx, (await chromaProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(chromaProbe, () => startTestChroma({ mode: 'garbage' }));
});
