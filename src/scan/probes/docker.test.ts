// The tests do not expose a real Docker daemon on TCP (that would be the vulnerability): they run against
// test/servers/docker.ts, written from the documented Engine API. Hostile peers: test/helpers/hostile-peers.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { itFindsNothingOnHostilePeers } from '../../../test/helpers/hostile-peers.js';
import { probeContext } from '../../../test/helpers/probe-context.js';
import { makeSelfSignedCert } from '../../../test/helpers/self-signed-cert.js';
import { startTestDocker } from '../../../test/servers/docker.js';
import type { TestApi } from '../../../test/servers/json-api.js';
import { scan } from '../scanner.js';
import { dockerProbe } from './docker.js';

describe('docker probe', () => {
  let open: TestApi;
  let locked: TestApi;
  before(async () => {
    open = await startTestDocker({ mode: 'open', containers: 3, port: 12375 });
    locked = await startTestDocker({ mode: 'locked' });
  });
  after(async () => {
    await Promise.all([open?.close(), locked?.close()]);
  });

  it('fingerprints the Engine API on a non-default port', async () => {
    assert.deepEqual(await dockerProbe.fingerprint(probeContext(open.port)), {
      service: 'docker',
      version: '27.3.1',
      details: { apiVersion: '1.47', os: 'linux' },
    });
  });

  it('reports an open API as high (code execution) with counts only, creating nothing', async () => {
    const ctx = probeContext(open.port);
    const a = await dockerProbe.assess(ctx, (await dockerProbe.fingerprint(ctx))!);
    assert.equal(a.auth, 'none');
    assert.equal(a.severity, 'high');
    assert.deepEqual(a.evidence.notes.slice(1), ['3 container(s) (1 running), 9 image(s)', 'host OS Debian GNU/Linux 12 (bookworm)']);
    assert.deepEqual(open.requests, ['GET /version', 'GET /version', 'GET /info']);
  });

  it('reports an authorization plugin that denies as requiring authentication', async () => {
    const ctx = probeContext(locked.port);
    const fp = await dockerProbe.fingerprint(ctx);
    assert.deepEqual(fp, { service: 'docker', details: { authRequired: true } });
    const a = await dockerProbe.assess(ctx, fp!);
    assert.equal(a.auth, 'required');
    assert.equal(a.severity, 'info');
  });

  itFindsNothingOnHostilePeers(dockerProbe, () => startTestDocker({ mode: 'garbage' }));
});

describe('docker probe over TLS, as on 2376 without --tlsverify', () => {
  const cert = makeSelfSignedCert('/CN=gpu-node-7/O=warden-test');
  const servers: TestApi[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('a scan finds an open Engine API over TLS with the certificate, and a plain one without', async () => {
    const tls = await startTestDocker({ mode: 'open', containers: 3, tls: cert });
    const plain = await startTestDocker({ mode: 'open', containers: 3 });
    servers.push(tls, plain);
    const report = await scan({ targets: [`127.0.0.1:${tls.port}`, `127.0.0.1:${plain.port}`], probes: [dockerProbe] });
    const byPort = new Map(report.findings.map((f) => [f.port, f]));
    const overTls = byPort.get(tls.port);
    assert.equal(overTls?.auth, 'none', JSON.stringify(report));
    assert.equal(overTls.severity, 'high');
    assert.deepEqual(overTls.evidence.tls, { subject: 'CN=gpu-node-7, O=warden-test', issuer: 'CN=gpu-node-7, O=warden-test' });
    assert.equal(overTls.reproduce, `curl -sk 'https://127.0.0.1:${tls.port}/info'`);
    assert.equal(byPort.get(plain.port)?.auth, 'none');
    assert.equal(byPort.get(plain.port)?.evidence.tls, undefined);
    assert.ok(tls.requests.every((r) => r.startsWith('GET ')));
  });

  it('an authorization plugin behind TLS is reported as requiring authentication', async () => {
    const server = await startTestDocker({ mode: 'locked', tls: cert });
    servers.push(server);
    const report = await scan({ targets: [`127.0.0.1:${server.port}`], probes: [dockerProbe] });
    assert.equal(report.findings[0]?.auth, 'required', JSON.stringify(report));
    assert.equal(report.findings[0].severity, 'info');
  });
});
