// Ray is not packaged by Debian: these tests run against test/servers/ray.ts, written from Ray's documented
// Jobs REST API. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestRay } from '../../../test/servers/ray.js';
import { rayProbe } from './ray.js';

const ENTRYPOINT = 'python train.py --hf-token hf_not_a_real_token_abcdefghijklmnop';

describe('ray probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    const jobs = [
      { status: 'RUNNING' as const, entrypoint: ENTRYPOINT },
      { status: 'SUCCEEDED' as const, entrypoint: ENTRYPOINT },
      { status: 'SUCCEEDED' as const, entrypoint: 'python eval.py' },
    ];
    open = await startTestRay({ mode: 'open', jobs, port: 18265 });
    locked = await startTestRay({ mode: 'locked', jobs });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints the Ray dashboard on a non-default port', async () => {
    assert.deepEqual(await rayProbe.fingerprint(probeContext(open.port)), { service: 'ray', version: '2.9.3' });
  });

  it('reports an open Jobs API as high (code execution) with job counts, never an entrypoint, and submits nothing', async () => {
    const ctx = probeContext(open.port);
    const a = await rayProbe.assess(ctx, (await rayProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.ok(a.evidence.notes.includes('3 job(s): 1 RUNNING, 2 SUCCEEDED (entrypoints and runtime environments not reported)'));
    assert.doesNotMatch(JSON.stringify(a), /train\.py|hf_|STAGE/);
    assert.ok(open.requests.every((r) => r.startsWith('GET ')));
  });

  it('reports a guarded Jobs API as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const a = await rayProbe.assess(ctx, (await rayProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(rayProbe, () => startTestRay({ mode: 'garbage' }));
});
