// Jupyter is not run from Debian's packages here: these tests use test/servers/jupyter.ts, written from the
// documented Jupyter Server REST API. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestJupyter } from '../../../test/servers/jupyter.js';
import { jupyterProbe } from './jupyter.js';

describe('jupyter probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    open = await startTestJupyter({ mode: 'open', kernels: 2, files: ['secrets.env', 'train.ipynb', 'data'], port: 18888 });
    locked = await startTestJupyter({ mode: 'locked', kernels: 2 });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints Jupyter on a non-default port', async () => {
    assert.deepEqual(await jupyterProbe.fingerprint(probeContext(open.port)), { service: 'jupyter', version: '2.14.2' });
  });

  it('reports a server without a token as high (code execution) with counts only, starting nothing', async () => {
    const ctx = probeContext(open.port);
    const a = await jupyterProbe.assess(ctx, (await jupyterProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.notes.slice(1), ['2 kernel(s) running', '1 session(s)', '3 entries in the root folder (names not reported)']);
    assert.doesNotMatch(JSON.stringify(a), /secrets\.env/);
    assert.ok(open.requests.every((r) => r.startsWith('GET ')));
  });

  it('reports a server with a token as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const a = await jupyterProbe.assess(ctx, (await jupyterProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(jupyterProbe, () => startTestJupyter({ mode: 'garbage' }));
});
