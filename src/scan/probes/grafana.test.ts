// Grafana is not packaged by Debian: these tests run against test/servers/grafana.ts, written from Grafana's
// documented HTTP API. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { startTestGrafana } from '../../../test/servers/grafana.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { grafanaProbe } from './grafana.js';

describe('grafana probe', () => {
  let anonymous: TestApi;
  let locked: TestApi;
  let lockedDefault: TestApi;
  before(async () => {
    anonymous = await startTestGrafana({ mode: 'open', dashboards: 4, port: 13000 });
    locked = await startTestGrafana({ mode: 'locked', dashboards: 4, login: 'admin:a-real-password' });
    lockedDefault = await startTestGrafana({ mode: 'locked', dashboards: 4, login: 'admin:admin' });
  });
  after(async () => {
    await Promise.all([anonymous?.close(), locked?.close(), lockedDefault?.close()]);
  });

  it('fingerprints Grafana on a non-default port', async () => {
    assert.deepEqual(await grafanaProbe.fingerprint(probeContext(anonymous.port)), { service: 'grafana', version: '11.4.0' });
  });

  it('reports anonymous access as high with dashboard and data source counts', async () => {
    const ctx = probeContext(anonymous.port);
    const a = await grafanaProbe.assess(ctx, (await grafanaProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.notes, [
      'anonymous access is on (organisation Main Org.)',
      '4 dashboard(s) visible',
      '1 data source(s) visible, each queryable through Grafana',
    ]);
    assert.ok(anonymous.requests.every((r) => r.startsWith('GET ') && !/proxy|ds\/query/.test(r)));
  });

  it('reports a locked Grafana as requiring authentication, trying admin/admin only with --default-credentials', async () => {
    const a = await grafanaProbe.assess(probeContext(lockedDefault.port), { service: 'grafana' });
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    const opts = { maxLevel: 'default-credentials' as const, defaultCredentials: true };
    const d = await grafanaProbe.assess(probeContext(lockedDefault.port, opts), { service: 'grafana' });
    assert.equal(d.auth, 'default-credentials');
    assert.equal(d.severity, 'medium');
    assert.equal(d.evidence.credentialsAccepted, 'admin:published default password');
    assert.equal(d.reproduce, `curl -s -u admin http://127.0.0.1:${lockedDefault.port}/api/org`);
    assert.equal((await grafanaProbe.assess(probeContext(locked.port, opts), { service: 'grafana' })).auth, 'required');
  });

  itFindsNothingOnHostilePeers(grafanaProbe, () => startTestGrafana({ mode: 'garbage' }));
});
