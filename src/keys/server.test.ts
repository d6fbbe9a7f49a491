// The key HTTP API over a real loopback socket, with a real SQLite store. GitHub's partner
// requests are signed here with an ECDSA P-256 key pair generated for the test, as GitHub signs them.
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Server } from 'node:http';
import { createScratchDatabase } from '../../test/helpers/scratch-databases.js';
import { KeyStore } from './key-store.js';
import { parseGithubPublicKeys } from './leak-signature.js';
import { examplePath } from '../../test/helpers/route-paths.js';
import { createKeyServer, KEY_ROUTES } from './server.js';
import { testSecrets } from './test-support.js';

describe('key HTTP API', () => {
  let keys: KeyStore;
  let server: Server;
  let base: string;
  let adminKey: string;
  const github = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeys = parseGithubPublicKeys(
    JSON.stringify({ public_keys: [{ key_identifier: 'test-key-1', key: github.publicKey.export({ type: 'spki', format: 'pem' }), is_current: true }] }),
  );

  before(async () => {
    keys = await KeyStore.open({ store: ':memory:', secrets: testSecrets() });
    adminKey = (await keys.create({ owner: 'ops', name: 'first admin', scopes: ['admin:*'] })).key;
    server = createKeyServer({ keys, githubPublicKeys: publicKeys });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    await keys.close();
  });

  const call = async (path: string, init: { method?: string; key?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}) => {
    const res = await fetch(base + path, {
      method: init.method ?? (init.body !== undefined || init.raw !== undefined ? 'POST' : 'GET'),
      headers: { 'content-type': 'application/json', ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...init.headers },
      ...(init.raw !== undefined ? { body: init.raw } : init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('serves its OpenAPI document', async () => {
    const { status, body } = await call('/openapi.json');
    assert.equal(status, 200);
    assert.equal(body.openapi, '3.1.0');
    assert.ok((body.paths as Record<string, unknown>)['/v1/leaks/github']);
  });

  it('refuses every route of its table that needs proof when the request brings none', async () => {
    assert.deepEqual(
      KEY_ROUTES.filter((r) => r.auth === 'none').map((r) => `${r.method} ${r.path}`),
      ['GET /openapi.json'],
      'the only public route',
    );
    const guarded = KEY_ROUTES.filter((r) => r.auth !== 'none');
    for (const route of guarded) {
      const res = await call(examplePath(route, { id: 'key_AAAAAAAAAAAAAAAA' }), { method: route.method, ...(route.method === 'GET' ? {} : { body: {} }) });
      assert.equal(res.status, 401, `${route.method} ${route.path}`);
    }
  });

  it('refuses admin routes without a key, or with a key lacking admin:keys', async () => {
    assert.equal((await call('/v1/keys')).status, 401);
    const reader = (await keys.create({ owner: 'o', name: 'reader', scopes: ['models:read'] })).key;
    const res = await call('/v1/keys', { key: reader });
    assert.equal(res.status, 403);
  });

  it('creates, lists, verifies, rotates and revokes', async () => {
    const created = await call('/v1/keys', {
      key: adminKey,
      body: { owner: 'acme', name: 'svc', scopes: ['models:read'], rate: '100/min', quota: '10000/month' },
    });
    assert.equal(created.status, 201);
    const newKey = created.body.key as string;
    const id = created.body.id as string;
    assert.match(newKey, /^wdn_live_/);
    const listed = await call('/v1/keys?owner=acme', { key: adminKey });
    assert.ok(!JSON.stringify(listed.body).includes(newKey));
    assert.equal((listed.body.keys as unknown[]).length, 1);

    const verdict = await call('/v1/keys/verify', { key: adminKey, body: { key: newKey, scopes: ['models:read'] } });
    assert.deepEqual([verdict.status, verdict.body.valid, verdict.body.keyId], [200, true, id]);
    const wrong = await call('/v1/keys/verify', { key: adminKey, body: { key: newKey, scopes: ['chat:write'] } });
    assert.deepEqual([wrong.status, wrong.body.valid, wrong.body.reason], [200, false, 'scope']);

    const rotated = await call(`/v1/keys/${id}/rotate`, { key: adminKey, body: { overlapMs: 60_000 } });
    assert.equal(rotated.status, 200);
    assert.equal((rotated.body.previous as { status: string }).status, 'rotating');
    const revoked = await call(`/v1/keys/${rotated.body.id as string}/revoke`, { key: adminKey, body: { reason: 'done' } });
    assert.equal(revoked.body.status, 'revoked');
    assert.equal((await call('/v1/keys/key_AAAAAAAAAAAAAAAA', { key: adminKey })).status, 404);
  });

  it('takes signed GitHub partner reports, revokes, labels, and is idempotent', async () => {
    const leaked = await keys.create({ owner: 'acme', name: 'leaky', scopes: ['models:read'] });
    const raw = JSON.stringify([
      { token: leaked.key, type: 'warden_api_key', url: 'https://github.com/acme/app/blob/abc/config.js', source: 'content' },
      { token: 'wdn_live_' + 'Q'.repeat(38), type: 'warden_api_key', url: 'https://github.com/acme/app/blob/abc/x', source: 'content' },
    ]);
    const signature = sign('sha256', Buffer.from(raw), github.privateKey).toString('base64');
    const headers = { 'github-public-key-identifier': 'test-key-1', 'github-public-key-signature': signature };
    const first = await call('/v1/leaks/github', { raw, headers });
    assert.equal(first.status, 200);
    assert.deepEqual(
      (first.body as unknown as Array<{ label: string }>).map((o) => o.label),
      ['true_positive', 'false_positive'],
    );
    assert.ok(!JSON.stringify(first.body).includes(leaked.key), 'the answer carries hashes, never tokens');
    assert.equal((await keys.verify(leaked.key)).reason, 'revoked');
    const retry = await call('/v1/leaks/github', { raw, headers });
    assert.deepEqual(retry.body, first.body);
    assert.equal((await keys.auditLog({ keyId: leaked.info.id })).filter((e) => e.action === 'leak-reported').length, 1);

    const tampered = await call('/v1/leaks/github', { raw: raw.replace('content', 'commit'), headers });
    assert.equal(tampered.status, 401);
    const unknownId = await call('/v1/leaks/github', { raw, headers: { ...headers, 'github-public-key-identifier': 'other' } });
    assert.equal(unknownId.status, 401);
  });

  it('takes reporter-neutral reports from a key with leaks:report only', async () => {
    const leaked = await keys.create({ owner: 'acme', name: 'leaky2', scopes: ['models:read'] });
    const reporter = (await keys.create({ owner: 'scanner', name: 'reporter', scopes: ['leaks:report'] })).key;
    const body = { tokens: [{ token: leaked.key, url: 'https://paste.example.invalid/1', source: 'paste' }] };
    assert.equal((await call('/v1/leaks', { body })).status, 401);
    const res = await call('/v1/leaks', { key: reporter, body });
    assert.equal(res.status, 200);
    assert.deepEqual(
      (res.body.results as Array<{ label: string }>).map((r) => r.label),
      ['true_positive'],
    );
    assert.equal((await keys.verify(leaked.key)).reason, 'revoked');
  });
});

describe('key HTTP API with its store gone', () => {
  it('answers 503 without saying where the store is, where it answered a bare 500', async () => {
    const scratch = await createScratchDatabase();
    const keys = await KeyStore.open({ store: scratch.url, secrets: testSecrets() });
    const server = createKeyServer({ keys });
    try {
      const admin = (await keys.create({ owner: 'ops', name: 'admin', scopes: ['admin:*'] })).key;
      await keys.verify(admin); // cached: the caller still authenticates within the staleness bound
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      await keys.store.close();
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/keys`, { headers: { authorization: `Bearer ${admin}` } });
      const body = await res.text();
      assert.equal(res.status, 503, body);
      // The caller's key may no longer be cached when the store's notification channel reconnects first: then
      // authentication itself answers unavailable. Either way a 503 that names no host, port or database.
      const { error } = JSON.parse(body) as { error: { code: string; message: string } };
      assert.equal(error.code, 'unavailable');
      assert.ok(['the key store is unavailable', 'key not accepted: unavailable'].includes(error.message), error.message);
      assert.doesNotMatch(body, /127\.0\.0\.1|5432|postgres|warden_test/i);
    } finally {
      await new Promise((r) => server.close(r));
      await keys.close().catch(() => undefined);
      await scratch.drop();
    }
  });
});
