/**
 * The gateway's upstream client over HTTPS: a node:https upstream with a throwaway certificate for
 * 127.0.0.1. With the route's `ca` the answer comes through on kept-alive connections; an upstream whose
 * certificate the gateway cannot verify gets no request at all (502).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeSelfSignedCert } from '../../test/helpers/self-signed-cert.js';
import { startTestGateway, type TestGateway } from './test-upstreams.js';

describe('warden gateway in front of an HTTPS upstream', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tls-upstream-'));
  const cert = makeSelfSignedCert('/CN=warden-upstream', 'IP:127.0.0.1');
  let upstream: Server;
  let gw: TestGateway;
  let key: string;
  /** Each TLS connection the upstream accepted, and the headers of each request it answered. */
  const connections: unknown[] = [];
  const seen: Array<Record<string, string | string[] | undefined>> = [];

  before(async () => {
    upstream = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
      seen.push(req.headers);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, tls: true }));
    });
    upstream.on('secureConnection', (socket) => connections.push(socket));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    const port = (upstream.address() as AddressInfo).port;
    writeFileSync(join(dir, 'upstream-ca.pem'), cert.cert);
    gw = await startTestGateway(
      `
listen: { port: 0 }
routes:
  - name: verified
    match: { pathPrefix: /v1 }
    upstream: { url: "https://127.0.0.1:${port}", profile: openai-compatible, ca: upstream-ca.pem }
    allow:
      - { endpoints: [models], scopes: ["llm:read"] }
  - name: unverified
    match: { pathPrefix: /other }
    stripPrefix: true
    upstream: { url: "https://127.0.0.1:${port}", profile: openai-compatible, timeoutMs: 3000 }
    allow:
      - { endpoints: [models], scopes: ["llm:read"] }
`,
      dir,
    );
    key = (await gw.keys.create({ owner: 'test', name: 'tls-upstream', scopes: ['llm:read'] })).key;
  });

  after(async () => {
    await gw?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the upstream against the route ca and reuses its connection', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gw.gateway.url}/v1/models`, { headers: { 'x-api-key': key } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { path: '/v1/models', tls: true });
    }
    assert.equal(connections.length, 1, 'one kept-alive TLS connection for three sequential requests');
    assert.equal(seen.at(-1)!['x-api-key'], undefined, 'the key stays at the gateway');
  });

  it('refuses an upstream whose certificate it cannot verify, with 502 and no request sent', async () => {
    const answered = seen.length;
    const res = await fetch(`${gw.gateway.url}/other/v1/models`, { headers: { 'x-api-key': key } });
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: string }).error, 'upstream_unreachable');
    assert.equal(seen.length, answered, 'the upstream never saw the request');
  });
});
