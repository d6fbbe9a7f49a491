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
import { KeyStore } from '../keys/index.js';
import { parseGatewayConfig } from './config.js';
import { Gateway } from './index.js';

describe('warden gateway in front of an HTTPS upstream', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-tls-upstream-'));
  const cert = makeSelfSignedCert('/CN=warden-upstream', 'IP:127.0.0.1');
  let upstream: Server;
  let keys: KeyStore;
  let gateway: Gateway;
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
    const secret = { version: 1, key: Buffer.alloc(32, 7) };
    keys = await KeyStore.open({ store: ':memory:', secrets: { current: secret, all: [secret] } });
    key = (await keys.create({ owner: 'test', name: 'tls-upstream', scopes: ['llm:read'] })).key;
    const config = `
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
`;
    gateway = await Gateway.start({ config: parseGatewayConfig(config, 'inline', dir), keys, accessLog: null });
  });

  after(async () => {
    await gateway?.close();
    await keys?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the upstream against the route ca and reuses its connection', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': key } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { path: '/v1/models', tls: true });
    }
    assert.equal(connections.length, 1, 'one kept-alive TLS connection for three sequential requests');
    assert.equal(seen.at(-1)!['x-api-key'], undefined, 'the key stays at the gateway');
  });

  it('refuses an upstream whose certificate it cannot verify, with 502 and no request sent', async () => {
    const answered = seen.length;
    const res = await fetch(`${gateway.url}/other/v1/models`, { headers: { 'x-api-key': key } });
    assert.equal(res.status, 502);
    assert.equal(((await res.json()) as { error: string }).error, 'upstream_unreachable');
    assert.equal(seen.length, answered, 'the upstream never saw the request');
  });
});
