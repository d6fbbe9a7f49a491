/**
 * Identity headers carry values the gateway did not write itself (a key's owner, a token's subject). One
 * that holds a line break must never become a second header upstream: the request is refused at the
 * gateway (500, internal_error) and the upstream sees nothing. A node:http upstream records what arrives.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from './test-upstreams.js';

describe('warden gateway identity headers', { timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-identity-headers-'));
  const seen: IncomingHttpHeaders[] = [];
  let upstream: Server;
  let gw: TestGateway;

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      res.end('{}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    gw = await startTestGateway(
      `
listen: { port: 0 }
routes:
  - name: llm
    upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", profile: openai-compatible }
    identityHeaders: { X-Warden-Owner: owner }
    allow:
      - { endpoints: [models], scopes: ["llm:read"] }
`,
      dir,
    );
  });

  after(async () => {
    await gw?.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const ask = async (owner: string) => {
    const { key } = await gw.keys.create({ owner, name: 'identity', scopes: ['llm:read'] });
    const res = await fetch(`${gw.gateway.url}/v1/models`, { headers: { 'x-api-key': key } });
    return { status: res.status, body: (await res.json()) as { error?: string } };
  };

  it('passes an owner on as the header the route names', async () => {
    const r = await ask('acme-analytics');
    assert.equal(r.status, 200);
    assert.equal(seen.at(-1)!['x-warden-owner'], 'acme-analytics');
  });

  it('refuses a request whose owner holds a line break, and the upstream sees nothing', async () => {
    const before = seen.length;
    const r = await ask('acme\r\nX-Admin: yes');
    assert.deepEqual([r.status, r.body.error], [500, 'internal_error']);
    assert.equal(seen.length, before, 'no request reached the upstream');
    assert.equal((await ask('acme-analytics')).status, 200, 'the next request is served');
  });
});
