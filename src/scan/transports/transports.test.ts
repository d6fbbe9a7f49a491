/** Transport caps against the hostile loopback servers: every read ends within its byte and time budget. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { makeSelfSignedCert } from '../../../test/helpers/self-signed-cert.js';
import { startTestApi, type TestApi } from '../../../test/servers/json-api.js';
import { listenLoopback, startHostilePeers, startHostileServer, TLS_HOSTILE_MODES, type HostilePeers } from '../../../test/servers/hostile.js';
import { httpGet } from './http.js';
import { isFailure } from './result.js';
import { connectTcp, tcpExchange, TcpConnection, untilLine } from './tcp.js';
import { readTlsPeer } from './tls.js';

describe('transports against hostile peers', () => {
  let hostile: HostilePeers;
  before(async () => {
    hostile = await startHostilePeers();
  });
  after(() => hostile.close());

  it('a flood is cut at the byte cap, without buffering it', async () => {
    const before = process.memoryUsage().rss;
    const reply = await tcpExchange('127.0.0.1', hostile.byMode['huge-banner'], undefined, () => 0, { timeoutMs: 3000, maxBytes: 64 * 1024 });
    assert.ok(isFailure(reply) && reply.reason === 'too-large', JSON.stringify(reply));
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
    const http = await httpGet({ host: '127.0.0.1', port: hostile.byMode['huge-banner'], path: '/', timeoutMs: 2000 });
    assert.ok(isFailure(http), 'a flood of non-HTTP bytes is not an HTTP reply');
  });

  it('silence ends at the timeout', async () => {
    const started = Date.now();
    const reply = await tcpExchange('127.0.0.1', hostile.byMode.silent, 'PING\r\n', untilLine, { timeoutMs: 300 });
    assert.ok(isFailure(reply) && reply.reason === 'timeout');
    assert.ok(Date.now() - started < 1500);
    const http = await httpGet({ host: '127.0.0.1', port: hostile.byMode.silent, path: '/', timeoutMs: 300 });
    assert.ok(isFailure(http) && http.reason === 'timeout');
  });

  it('TLS on a plain port and an early close become failures, not exceptions', async () => {
    const tls = await httpGet({ host: '127.0.0.1', port: hostile.byMode.tls, path: '/', timeoutMs: 1000 });
    assert.ok(isFailure(tls) && tls.reason === 'protocol', JSON.stringify(tls));
    const cut = await httpGet({ host: '127.0.0.1', port: hostile.byMode['close-mid-reply'], path: '/', timeoutMs: 1000 });
    assert.ok(isFailure(cut), JSON.stringify(cut));
  });

  it('a scan-wide abort ends a pending read at once', async () => {
    const controller = new AbortController();
    const conn = await connectTcp('127.0.0.1', hostile.byMode.silent, { timeoutMs: 1000, signal: controller.signal });
    assert.ok(conn instanceof TcpConnection);
    setTimeout(() => controller.abort(), 50);
    const reply = await conn.read(untilLine, { timeoutMs: 10_000 });
    assert.ok(isFailure(reply) && reply.reason === 'aborted');
  });

  it('a closed port is refused quickly', async () => {
    const conn = await connectTcp('127.0.0.1', 1, { timeoutMs: 1000 });
    assert.ok(isFailure(conn) && conn.reason === 'refused');
  });
});

describe('HTTP over TLS', () => {
  const cert = makeSelfSignedCert('/CN=warden transport test/O=warden-test/OU=scan');
  let https: TestApi;
  let plain: TestApi;
  before(async () => {
    const routes = () => ({ body: { ok: true } });
    https = await startTestApi({ mode: 'open', tls: cert }, routes);
    plain = await startTestApi({ mode: 'open' }, routes);
  });
  after(async () => {
    await Promise.all([https?.close(), plain?.close()]);
  });

  it('accepts a self-signed certificate and reports its subject and issuer', async () => {
    const reply = await httpGet({ host: '127.0.0.1', port: https.port, path: '/', timeoutMs: 2000, tls: true });
    assert.ok(!isFailure(reply), JSON.stringify(reply));
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.tls, { subject: 'CN=warden transport test, O=warden-test, OU=scan', issuer: 'CN=warden transport test, O=warden-test, OU=scan' });
    assert.deepEqual(await readTlsPeer('127.0.0.1', https.port, { timeoutMs: 2000 }), reply.tls);
  });

  it('plain HTTP to a TLS port and TLS to a plain port are protocol failures, not exceptions', async () => {
    const plainToTls = await httpGet({ host: '127.0.0.1', port: https.port, path: '/', timeoutMs: 2000 });
    assert.ok(isFailure(plainToTls), JSON.stringify(plainToTls));
    const tlsToPlain = await httpGet({ host: '127.0.0.1', port: plain.port, path: '/', timeoutMs: 2000, tls: true });
    assert.ok(isFailure(tlsToPlain) && tlsToPlain.reason === 'protocol', JSON.stringify(tlsToPlain));
    const handshake = await readTlsPeer('127.0.0.1', plain.port, { timeoutMs: 2000 });
    assert.ok(isFailure(handshake) && handshake.reason === 'protocol', JSON.stringify(handshake));
  });

  it("Go's 400 to a plain request on a TLS port is a protocol failure", async () => {
    // What the Kubernetes API server, the kubelet and Docker answer a plain request on their TLS port.
    const goTlsPort = await listenLoopback(
      createServer((_req, res) => {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('Client sent an HTTP request to an HTTPS server.\n');
      }),
    );
    try {
      const reply = await httpGet({ host: '127.0.0.1', port: goTlsPort.port, path: '/version', timeoutMs: 2000 });
      assert.ok(isFailure(reply) && reply.reason === 'protocol', JSON.stringify(reply));
    } finally {
      await goTlsPort.close();
    }
  });

  for (const mode of TLS_HOSTILE_MODES) {
    it(`a ${mode} peer ends within the timeout, for a request and for a bare handshake`, async () => {
      const peer = await startHostileServer(mode);
      try {
        const started = Date.now();
        const reply = await httpGet({ host: '127.0.0.1', port: peer.port, path: '/', timeoutMs: 400, tls: true });
        assert.ok(isFailure(reply), JSON.stringify(reply));
        const handshake = await readTlsPeer('127.0.0.1', peer.port, { timeoutMs: 400 });
        assert.ok(isFailure(handshake), JSON.stringify(handshake));
        assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      } finally {
        await peer.close();
      }
    });
  }
});
