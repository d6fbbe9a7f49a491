/**
 * OIDC bearer tokens against a local issuer (discovery document and JWKS over real HTTP, tokens
 * signed here with node:crypto independently of the gateway's own signer), and mutual TLS with
 * certificates made by openssl for this run, both through a real HTTPS gateway listener.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KeyStore } from '../../keys/index.js';
import { Gateway } from '../gateway.js';
import { parseGatewayConfig } from '../config.js';
import { startSseUpstream, type TestSseUpstream } from '../test-upstreams.js';
import { OidcVerifier } from './oidc.js';

interface TestKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

function makeKey(kid: string, alg: 'RS256' | 'ES256'): TestKey {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { kid, alg, privateKey: pair.privateKey, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig' } };
}

function token(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${enc({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header })}.${enc(claims)}`;
  const sig =
    key.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

interface TestIssuer {
  url: string;
  /** The keys the JWKS publishes; replace to rotate. */
  keys: TestKey[];
  jwksFetches: number;
  down: boolean;
  close(): Promise<void>;
}

/** A minimal OIDC issuer: a discovery document and a JWKS. */
async function startIssuer(): Promise<TestIssuer> {
  const server: Server = createServer((req, res) => {
    if (issuer.down) return void res.writeHead(503).end();
    if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer: issuer.url, jwks_uri: `${issuer.url}/jwks` }));
    if (req.url === '/jwks') {
      issuer.jwksFetches++;
      return void res.end(JSON.stringify({ keys: issuer.keys.map((k) => k.jwk) }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const issuer: TestIssuer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keys: [],
    jwksFetches: 0,
    down: false,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  return issuer;
}

const now = () => Math.floor(Date.now() / 1000);

describe('OIDC bearer tokens', () => {
  let issuer: TestIssuer;
  const rsa = makeKey('rsa-1', 'RS256');
  const ec = makeKey('ec-1', 'ES256');
  before(async () => {
    issuer = await startIssuer();
    issuer.keys = [rsa, ec];
  });
  after(() => issuer.close());

  it('accepts RS256 and ES256 tokens from the issuer, with subject and scopes', async () => {
    const oidc = new OidcVerifier([{ issuer: issuer.url, audience: 'warden' }]);
    const base = { iss: issuer.url, aud: 'warden', sub: 'svc-a', exp: now() + 60, scope: 'clickhouse:read llm:inference' };
    for (const key of [rsa, ec]) {
      const out = await oidc.verify(token(key, base));
      assert.ok(out.ok, JSON.stringify(out));
      assert.deepEqual(out.identity, { kind: 'jwt', subject: 'svc-a', scopes: ['clickhouse:read', 'llm:inference'], issuer: issuer.url });
    }
  });

  it('checks issuer, audience, expiry, not-before, algorithm and signature', async () => {
    const oidc = new OidcVerifier([{ issuer: issuer.url, audience: ['warden'], clockToleranceSeconds: 0 }]);
    const base = { iss: issuer.url, aud: 'warden', sub: 's', exp: now() + 60 };
    const reason = async (t: string) => {
      const out = await oidc.verify(t);
      return out.ok ? 'ok' : out.reason;
    };
    assert.equal(await reason(token(rsa, { ...base, iss: 'https://elsewhere.example' })), 'issuer');
    assert.equal(await reason(token(rsa, { ...base, aud: 'other' })), 'audience');
    assert.equal(await reason(token(rsa, { ...base, exp: now() - 5 })), 'expired');
    assert.equal(await reason(token(rsa, { ...base, nbf: now() + 120 })), 'not_yet_valid');
    assert.equal(await reason(token(rsa, base, { alg: 'HS256' })), 'algorithm');
    const good = token(rsa, base);
    const tampered = good.replace(/\.([^.]+)\./, () => `.${Buffer.from(JSON.stringify({ ...base, sub: 'admin' })).toString('base64url')}.`);
    assert.notEqual(tampered, good);
    assert.equal(await reason(tampered), 'signature');
    assert.equal(await reason(token(ec, base, { kid: 'rsa-1' })), 'signature', 'a key of another type under a known kid');
    assert.equal(await reason('not.a.jwt'), 'malformed');
    assert.equal(await reason(good), 'ok');
  });

  it('follows a key rotation: an unknown kid refetches the JWKS, at most once a second', async () => {
    const oidc = new OidcVerifier([{ issuer: issuer.url, audience: 'warden' }]);
    const claims = { iss: issuer.url, aud: 'warden', sub: 's', exp: now() + 60 };
    assert.ok((await oidc.verify(token(rsa, claims))).ok);
    const rotated = makeKey('rsa-2', 'RS256');
    // Signed before the clock starts: making RSA keys is slow enough on a loaded machine to span a second.
    const unknownKids = Array.from({ length: 5 }, (_, i) => token(makeKey(`fake-${i}`, 'RS256'), claims));
    issuer.keys = [rotated];
    await new Promise((r) => setTimeout(r, 1050));
    const before = issuer.jwksFetches;
    assert.ok((await oidc.verify(token(rotated, claims))).ok, 'the new key is fetched and trusted');
    for (const t of unknownKids) await oidc.verify(t);
    assert.ok(issuer.jwksFetches - before <= 1, 'a flood of unknown kids does not flood the issuer');
    issuer.keys = [rsa, ec];
  });

  it('fails as unavailable when the JWKS cannot be fetched and nothing is cached', async () => {
    issuer.down = true;
    try {
      const out = await new OidcVerifier([{ issuer: issuer.url, audience: 'warden' }]).verify(
        token(rsa, { iss: issuer.url, aud: 'warden', sub: 's', exp: now() + 60 }),
      );
      assert.deepEqual(out, { ok: false, reason: 'unavailable' });
    } finally {
      issuer.down = false;
    }
  });
});

describe('gateway over HTTPS with mutual TLS and OIDC', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-gw-tls-'));
  let issuer: TestIssuer;
  let upstream: TestSseUpstream;
  let gateway: Gateway;
  let keys: KeyStore;
  const rsa = makeKey('gw-rsa', 'RS256');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

  before(async () => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=warden test CA');
    const leaf = (name: string, subj: string, ext: string) => {
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj);
      writeFileSync(join(dir, `${name}.ext`), ext);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-out',
        `${name}.pem`,
        '-days',
        '1',
        '-extfile',
        `${name}.ext`,
      );
    };
    leaf('server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    leaf('client', '/CN=batch-job', 'subjectAltName=DNS:batch-job.internal\nextendedKeyUsage=clientAuth\n');
    leaf('stranger', '/CN=stranger', 'extendedKeyUsage=clientAuth\n');
    issuer = await startIssuer();
    issuer.keys = [rsa];
    upstream = await startSseUpstream();
    keys = await KeyStore.open({
      store: ':memory:',
      secrets: { current: { version: 1, key: Buffer.alloc(32, 7) }, all: [{ version: 1, key: Buffer.alloc(32, 7) }] },
    });
    const cfg = parseGatewayConfig(
      `
listen: { port: 0, tls: { cert: server.pem, key: server.key, clientCa: ca.pem } }
oidc:
  - { issuer: "${issuer.url}", audience: warden-gateway }
mtls:
  identityFrom: san-dns
  identities: { batch-job.internal: ["llm:inference"] }
routes:
  - name: admin
    match: { host: admin.internal }
    upstream: { url: "${upstream.url}", profile: openai-compatible }
    credentials: [mtls]
    allow:
      - { classes: [read], scopes: ["llm:admin"] }
  - name: llm
    upstream: { url: "${upstream.url}", profile: openai-compatible }
    credentials: [key, jwt, mtls]
    allow:
      - { classes: [read], scopes: ["llm:inference"] }
    identityHeaders: { X-Warden-Subject: subject, X-Warden-Credential: kind }
`,
      'inline',
      dir,
    );
    gateway = await Gateway.start({ config: cfg, keys, accessLog: null });
  });
  after(async () => {
    await gateway?.close();
    await keys?.close();
    await Promise.all([issuer?.close(), upstream?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, opts: { cert?: string; headers?: Record<string, string>; servername?: string } = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const u = new URL(gateway.url);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path,
          ca: readFileSync(join(dir, 'ca.pem')),
          headers: opts.headers ?? {},
          ...(opts.servername ? { servername: opts.servername, checkServerIdentity: () => undefined } : {}),
          ...(opts.cert ? { cert: readFileSync(join(dir, `${opts.cert}.pem`)), key: readFileSync(join(dir, `${opts.cert}.key`)) } : {}),
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('maps a client certificate SAN to an identity with its scopes', async () => {
    assert.equal((await get('/v1/models')).status, 401);
    const r = await get('/v1/models', { cert: 'client' });
    assert.equal(r.status, 200, r.body);
    assert.equal(upstream.lastHeaders()!['x-warden-subject'], 'batch-job.internal');
    assert.equal(upstream.lastHeaders()!['x-warden-credential'], 'mtls');
  });

  // The route, and so the policy, follows Host; the TLS server name takes no part in routing or authorization,
  // so a client cannot pick one route's policy by SNI and reach another by Host.
  it('decides by Host, whatever server name the TLS handshake named', async () => {
    const toAdmin = await get('/v1/models', { cert: 'client', servername: 'localhost', headers: { host: 'admin.internal' } });
    assert.deepEqual([toAdmin.status, JSON.parse(toAdmin.body).route], [403, 'admin']);
    const fqdn = await get('/v1/models', { cert: 'client', servername: 'localhost', headers: { host: 'admin.internal.:443' } });
    assert.deepEqual([fqdn.status, JSON.parse(fqdn.body).route], [403, 'admin'], 'the trailing dot of a fully qualified name picks the same route');
    const adminSni = await get('/v1/models', { cert: 'client', servername: 'admin.internal', headers: { host: 'admin.internal' } });
    assert.equal(adminSni.status, 403);
    const llm = await get('/v1/models', { cert: 'client', servername: 'admin.internal', headers: { host: '127.0.0.1' } });
    assert.equal(llm.status, 200, 'the llm route, where this identity holds the scope');
  });

  it('authenticates a certificate without a mapped scope but does not authorize it', async () => {
    const r = await get('/v1/models', { cert: 'stranger' });
    assert.equal(r.status, 401, 'no SAN of the configured kind: no identity');
  });

  it('accepts an OIDC token with the scope, refuses one without or with the wrong audience', async () => {
    const claims = { iss: issuer.url, aud: 'warden-gateway', sub: 'svc-b', exp: now() + 60 };
    const ok = await get('/v1/models', { headers: { authorization: `Bearer ${token(rsa, { ...claims, scope: 'llm:inference' })}` } });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(upstream.lastHeaders()!['x-warden-subject'], 'svc-b');
    assert.equal(upstream.lastHeaders()!.authorization, undefined);
    assert.equal((await get('/v1/models', { headers: { authorization: `Bearer ${token(rsa, claims)}` } })).status, 403);
    const wrongAud = await get('/v1/models', { headers: { authorization: `Bearer ${token(rsa, { ...claims, aud: 'x', scope: 'llm:inference' })}` } });
    assert.deepEqual([wrongAud.status, JSON.parse(wrongAud.body).reason], [401, 'jwt_audience']);
  });
});
