// TorchServe is not packaged by Debian: these tests run against test/servers/torchserve.ts, written from the
// documented management and token-authorisation APIs. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestTorchServe } from '../../../test/servers/torchserve.js';
import { torchserveProbe } from './torchserve.js';

describe('torchserve probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    open = await startTestTorchServe({ mode: 'open', models: ['resnet-18', 'bert-sentiment'], port: 18081 });
    locked = await startTestTorchServe({ mode: 'locked', models: ['resnet-18'] });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints the management API on a non-default port', async () => {
    assert.deepEqual(await torchserveProbe.fingerprint(probeContext(open.port)), { service: 'torchserve', version: '0.12.0' });
  });

  it('reports an open management API as high (code execution) with model names, registering nothing', async () => {
    const ctx = probeContext(open.port);
    const a = await torchserveProbe.assess(ctx, (await torchserveProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.notes.slice(1), ['2 model(s) registered', 'model resnet-18', 'model bert-sentiment']);
    assert.ok(open.requests.every((r) => r.startsWith('GET ')));
  });

  it('reports token authorisation as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const fp = await torchserveProbe.fingerprint(ctx);
    assert.deepEqual(fp, { service: 'torchserve', details: { authRequired: true } });
    const a = await torchserveProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(torchserveProbe, () => startTestTorchServe({ mode: 'garbage' }));
});
