// MLflow is not packaged by Debian: these tests run against test/servers/mlflow.ts, written from MLflow's
// documented REST API and basic-auth app. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestMlflow } from '../../../test/servers/mlflow.js';
import { mlflowProbe } from './mlflow.js';

const experiments = ['Default', 'llm-finetune', 'rag-eval'];

describe('mlflow probe', () => {
  let open: TestApi;
  let locked: TestApi;
  let lockedDefault: TestApi;
  before(async () => {
    open = await startTestMlflow({ mode: 'open', experiments, models: ['support-bot'], port: 15000 });
    locked = await startTestMlflow({ mode: 'locked', experiments, login: 'admin:a-real-admin-password' });
    lockedDefault = await startTestMlflow({ mode: 'locked', experiments, login: 'admin:password1234' });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close(), lockedDefault?.close()]);
  });

  it('fingerprints MLflow on a non-default port, open and locked', async () => {
    assert.deepEqual(await mlflowProbe.fingerprint(probeContext(open.port)), { service: 'mlflow', version: '2.19.0' });
    assert.deepEqual(await mlflowProbe.fingerprint(probeContext(locked.port)), { service: 'mlflow', details: { authRequired: true } });
  });

  it('reports an open server as high with experiment names and the model count', async () => {
    const ctx = probeContext(open.port);
    const a = await mlflowProbe.assess(ctx, (await mlflowProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [{ name: 'experiments', tables: experiments.map((name) => ({ name })) }]);
    assert.deepEqual(a.evidence.notes.slice(1), ['3 experiment(s)', '1 registered model(s)']);
    assert.ok(open.requests.every((r) => r.startsWith('GET ') && !/artifacts|runs/.test(r)));
  });

  it('reports the basic-auth app as requiring authentication, trying no password without --default-credentials', async () => {
    const ctx = probeContext(lockedDefault.port);
    const a = await mlflowProbe.assess(ctx, (await mlflowProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.ok(lockedDefault.requests.every((r) => r.startsWith('GET ')));
  });

  it('with --default-credentials reports the default admin login without printing it', async () => {
    const opts = { maxLevel: 'default-credentials' as const, defaultCredentials: true };
    const a = await mlflowProbe.assess(probeContext(lockedDefault.port, opts), { service: 'mlflow' });
    assert.equal(a.auth, 'default-credentials');
    assert.equal(a.severity, 'high');
    assert.equal(a.evidence.credentialsAccepted, 'admin:published default password');
    assert.doesNotMatch(JSON.stringify(a), /password1234/);
    const refused = await mlflowProbe.assess(probeContext(locked.port, opts), { service: 'mlflow' });
    assert.equal(refused.auth, 'required');
  });

  itFindsNothingOnHostilePeers(mlflowProbe, () => startTestMlflow({ mode: 'garbage' }));
});
