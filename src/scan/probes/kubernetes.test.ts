// No Kubernetes cluster runs here: these tests use test/servers/kubernetes.ts, an API server written from the
// documented REST conventions (lists, v1 Status errors). The kubelet's /pods would otherwise answer this
// probe's fingerprint, so the test checks it does not. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { makeSelfSignedCert } from '../../../test/helpers/self-signed-cert.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { startTestKubernetes } from '../../../test/servers/kubernetes.js';
import { scan } from '../scanner.js';
import { kubernetesProbe } from './kubernetes.js';

const pods = { default: 2, 'llm-gateway': 3 };

describe('kubernetes API server probe', () => {
  let open: TestApi;
  let locked: TestApi;
  let anonymousDenied: TestApi;
  before(async () => {
    open = await startTestKubernetes({ mode: 'open', role: 'apiserver', pods, port: 16443 });
    locked = await startTestKubernetes({ mode: 'locked', role: 'apiserver', pods });
    anonymousDenied = await startTestKubernetes({ mode: 'anonymous-denied', role: 'apiserver', pods });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close(), anonymousDenied?.close()]);
  });

  it('fingerprints the API server on a non-default port, and not a kubelet', async () => {
    assert.deepEqual(await kubernetesProbe.fingerprint(probeContext(open.port)), {
      service: 'kubernetes',
      version: 'v1.31.2',
      details: { platform: 'linux/amd64' },
    });
    const kubelet = await startTestKubernetes({ mode: 'open', role: 'kubelet', pods });
    try {
      assert.equal(await kubernetesProbe.fingerprint(probeContext(kubelet.port)), undefined);
    } finally {
      await kubelet.close();
    }
  });

  it('reports anonymous reads as high with namespace and pod counts, never listing secrets', async () => {
    const ctx = probeContext(open.port);
    const a = await kubernetesProbe.assess(ctx, (await kubernetesProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.notes.slice(1), ['2 namespace(s)', '5 pod(s) readable, specs not reported']);
    assert.doesNotMatch(JSON.stringify(a), /OPENAI_API_KEY/);
    assert.ok(open.requests.every((r) => r.startsWith('GET ') && !r.includes('secrets')));
  });

  it('reports 401 and the RBAC 403 for system:anonymous as requiring authentication', async () => {
    const lockedFp = await kubernetesProbe.fingerprint(probeContext(locked.port));
    assert.deepEqual(lockedFp, { service: 'kubernetes', details: { authRequired: true } });
    const a = await kubernetesProbe.assess(probeContext(locked.port), lockedFp!);
    assert.equal(a.auth, 'required');
    assert.match(a.evidence.notes.join(), /anonymous authentication is off/);
    const ctx = probeContext(anonymousDenied.port);
    const d = await kubernetesProbe.assess(ctx, (await kubernetesProbe.fingerprint(ctx))!);
    assert.equal(d.auth, 'required');
    assert.equal(d.severity, 'info');
    assert.match(d.evidence.notes.join(), /anonymous authentication is on but RBAC denies/);
  });

  itFindsNothingOnHostilePeers(kubernetesProbe, () => startTestKubernetes({ mode: 'garbage', role: 'apiserver' }));
});

describe('kubernetes API server probe over TLS, as API servers serve 6443', () => {
  const cert = makeSelfSignedCert('/CN=kube-apiserver/O=warden-test');
  const servers: TestApi[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('a scan finds an anonymous-readable API server over TLS with its version, counts and certificate', async () => {
    const server = await startTestKubernetes({ mode: 'open', role: 'apiserver', pods, tls: cert });
    servers.push(server);
    const report = await scan({ targets: [`127.0.0.1:${server.port}`], probes: [kubernetesProbe] });
    const [f] = report.findings;
    assert.equal(f?.auth, 'none', JSON.stringify(report));
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence.version, 'v1.31.2');
    assert.deepEqual(f.evidence.tls, { subject: 'CN=kube-apiserver, O=warden-test', issuer: 'CN=kube-apiserver, O=warden-test' });
    assert.equal(f.reproduce, `curl -sk 'https://127.0.0.1:${server.port}/api/v1/namespaces?limit=500'`);
    assert.ok(server.requests.every((r) => !r.includes('secrets')));
  });

  it('an API server over TLS with anonymous authentication off is reported as requiring authentication', async () => {
    const server = await startTestKubernetes({ mode: 'locked', role: 'apiserver', pods, tls: cert });
    servers.push(server);
    const report = await scan({ targets: [`127.0.0.1:${server.port}`], probes: [kubernetesProbe] });
    assert.equal(report.findings[0]?.auth, 'required', JSON.stringify(report));
    assert.equal(report.findings[0].severity, 'info');
  });
});
