/**
 * A differential test of request framing: every odd request in `testdata/framing-corpus.ndjson` (one JSON
 * line each: a name and the raw bytes, `{KEY}` standing for a valid key) goes through the gateway to a
 * recording upstream, and the upstream must never see a request that the gateway did not authorize and log.
 * Most cases hide a second request (`/private/smuggled`, no key) where one reader of the bytes sees a body
 * and another a request. The upstream is node:http with its lenient parser on (`insecureHTTPParser`), the
 * most forgiving reader of what the gateway sends; a request it finds that the access log does not hold as
 * allowed is a bypass. New cases are one line in the corpus.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RawHttpClient } from '../../test/helpers/raw-http-client.js';
import { KeyStore } from '../keys/index.js';
import { parseGatewayConfig } from './config.js';
import { Gateway } from './gateway.js';

interface Case {
  name: string;
  raw: string;
}
const CORPUS: Case[] = readFileSync(fileURLToPath(new URL('./testdata/framing-corpus.ndjson', import.meta.url)), 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Case);

const PROFILE = `kind: framing
endpoints:
  - { name: health, path: /public/*, methods: [GET, HEAD, POST], class: health }
  - { name: private, path: /private/*, methods: [GET, HEAD, POST], class: read }
`;

/** What one side saw: `METHOD target` per request. */
type Seen = string[];

describe('the framing corpus through the gateway: the upstream sees only what the gateway authorized and logged', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-framing-'));
  const upstreamSeen: Seen = [];
  const logged: Array<{ method: string; path: string; status: number; reason?: string; route: string | null }> = [];
  let upstream: Server;
  let gateway: Gateway;
  let keys: KeyStore;
  let port = 0;
  let key = '';

  before(async () => {
    upstream = createServer({ insecureHTTPParser: true }, (req, res) => {
      upstreamSeen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    upstream.on('upgrade', (req, socket) => {
      upstreamSeen.push(`${req.method} ${req.url}`);
      socket.destroy();
    });
    upstream.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    writeFileSync(join(dir, 'framing.yaml'), PROFILE);
    const secret = { version: 1, key: Buffer.alloc(32, 9) };
    keys = await KeyStore.open({ store: ':memory:', secrets: { current: secret, all: [secret] } });
    const log = new PassThrough();
    let pending = '';
    log.on('data', (c: Buffer) => {
      pending += c.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line) logged.push(JSON.parse(line) as (typeof logged)[number]);
    });
    const config = `
listen: { port: 0 }
routes:
  - name: framing
    upstream: { url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}", profile: ./framing.yaml, timeoutMs: 3000 }
    public: [health]
    identityHeaders: { X-Warden-Key-Id: keyId }
    allow:
      - { endpoints: [private], scopes: ["framing:read"] }
`;
    gateway = await Gateway.start({ config: parseGatewayConfig(config, 'inline', dir), keys, accessLog: log });
    port = Number(new URL(gateway.url).port);
    key = (await keys.create({ owner: 'test', name: 'framing', scopes: ['framing:read'] })).key;
  });

  after(async () => {
    await gateway?.close();
    await keys?.close();
    await new Promise<void>((resolve) => {
      upstream.closeAllConnections();
      upstream.close(() => resolve());
    });
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one case and reads whatever comes back until the gateway closes or goes quiet. */
  async function send(raw: string): Promise<void> {
    const c = await RawHttpClient.open(port);
    c.write(Buffer.from(raw.replaceAll('{KEY}', key), 'latin1'));
    await c.closes(700);
    c.destroy();
  }

  /** A normal request whose arrival upstream shows that anything forwarded before it has arrived too. */
  async function settle(mark: string): Promise<void> {
    const c = await RawHttpClient.open(port);
    c.write(`GET /public/${mark} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const r = await c.response();
    c.destroy();
    assert.equal(r?.status, 200, 'the gateway still serves a normal request');
  }

  it(`holds for each of the ${CORPUS.length} cases`, async () => {
    const failures: string[] = [];
    for (const [i, { name, raw }] of CORPUS.entries()) {
      const seenMark = upstreamSeen.length;
      const logMark = logged.length;
      await send(raw);
      await settle(`settle-${i}`);
      // Forwarded = logged with a route and no refusal reason of the gateway's own (upstream_* failures still went out).
      const authorized = logged
        .slice(logMark)
        .filter((l) => l.route !== null && (!l.reason || l.reason.startsWith('upstream_')))
        .map((l) => `${l.method} ${l.path}`);
      const unexplained = [...upstreamSeen.slice(seenMark)];
      for (const a of authorized) {
        const at = unexplained.indexOf(a);
        if (at >= 0) unexplained.splice(at, 1);
      }
      if (unexplained.length) failures.push(`${name}: the upstream saw ${JSON.stringify(unexplained)} that the gateway never authorized and logged`);
      if (upstreamSeen.slice(seenMark).some((s) => s.includes('/private/smuggled'))) failures.push(`${name}: the smuggled request reached the upstream`);
    }
    assert.deepEqual(failures, []);
  });
});
