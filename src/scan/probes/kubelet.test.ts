// No Kubernetes node runs here: these tests use test/servers/kubernetes.ts in its kubelet role, written from the
// documented kubelet authentication and authorisation behaviour. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { makeSelfSignedCert } from '../../../test/helpers/self-signed-cert.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestKubernetes } from '../../../test/servers/kubernetes.js';
import { scan } from '../scanner.js';
import { kubeletProbe } from './kubelet.js';

describe('kubelet probe', () => {
  let open: TestApi;
  let anonymousDenied: TestApi;
  let locked: TestApi;
  before(async () => {
    open = await startTestKubernetes({ mode: 'open', role: 'kubelet', pods: { default: 1, 'ml-serving': 2 }, port: 20255 });
    anonymousDenied = await startTestKubernetes({ mode: 'anonymous-denied', role: 'kubelet' });
    locked = await startTestKubernetes({ mode: 'locked', role: 'kubelet' });
  });
  after(async () => {
    await Promise.all([open?.close(), anonymousDenied?.close(), locked?.close()]);
  });

  it('fingerprints a kubelet by its PodList on a non-default port, and not an API server', async () => {
    assert.deepEqual(await kubeletProbe.fingerprint(probeContext(open.port)), { service: 'kubelet' });
    const apiserver = await startTestKubernetes({ mode: 'open', role: 'apiserver' });
    try {
      assert.equal(await kubeletProbe.fingerprint(probeContext(apiserver.port)), undefined);
    } finally {
      await apiserver.close();
    }
  });

  it('reports an open kubelet as high (code execution) with pod counts per namespace, keeping no spec', async () => {
    const ctx = probeContext(open.port);
    const a = await kubeletProbe.assess(ctx, (await kubeletProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.databases, [
      {
        name: 'namespaces',
        tables: [
          { name: 'default', rows: 1 },
          { name: 'ml-serving', rows: 2 },
        ],
      },
    ]);
    assert.doesNotMatch(JSON.stringify(a), /OPENAI_API_KEY/);
    assert.ok(open.requests.every((r) => r === 'GET /pods'));
  });

  it('identifies the anonymous 403 and reports it as requiring authentication; a bare 401 is not claimed', async () => {
    const ctx = probeContext(anonymousDenied.port);
    const fp = await kubeletProbe.fingerprint(ctx);
    assert.deepEqual(fp, { service: 'kubelet', details: { authRequired: true } });
    const a = await kubeletProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
    assert.equal(await kubeletProbe.fingerprint(probeContext(locked.port)), undefined);
  });

  itFindsNothingOnHostilePeers(kubeletProbe, () => startTestKubernetes({ mode: 'garbage', role: 'kubelet' }));
});

describe('kubelet probe over TLS, as kubelets serve 10250', () => {
  const cert = makeSelfSignedCert('/CN=gpu-node-7@1736121600/O=warden-test');
  const servers: TestApi[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('a scan finds an open kubelet over TLS on a non-default port and records the certificate', async () => {
    const server = await startTestKubernetes({ mode: 'open', role: 'kubelet', pods: { default: 2 }, tls: cert });
    servers.push(server);
    const report = await scan({ targets: [`127.0.0.1:${server.port}`], probes: [kubeletProbe] });
    const [f] = report.findings;
    assert.equal(f?.auth, 'none', JSON.stringify(report));
    assert.equal(f.severity, 'high');
    assert.deepEqual(f.evidence.tls, { subject: 'CN=gpu-node-7@1736121600, O=warden-test', issuer: 'CN=gpu-node-7@1736121600, O=warden-test' });
    assert.deepEqual(f.evidence.databases, [{ name: 'namespaces', tables: [{ name: 'default', rows: 2 }] }]);
    assert.equal(f.reproduce, `curl -sk 'https://127.0.0.1:${server.port}/pods'`);
  });

  it('a kubelet over TLS that denies system:anonymous is reported as requiring authentication', async () => {
    const server = await startTestKubernetes({ mode: 'anonymous-denied', role: 'kubelet', tls: cert });
    servers.push(server);
    const report = await scan({ targets: [`127.0.0.1:${server.port}`], probes: [kubeletProbe] });
    assert.equal(report.findings[0]?.auth, 'required', JSON.stringify(report));
    assert.equal(report.findings[0].severity, 'info');
    assert.ok(report.findings[0].evidence.tls);
  });
});
