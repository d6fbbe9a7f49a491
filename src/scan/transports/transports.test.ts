/** Transport caps against the hostile loopback servers: every read ends within its byte and time budget. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHostileServer, type HostileServer } from '../test-hostile.js';
import { httpGet } from './http.js';
import { isFailure } from './result.js';
import { connectTcp, tcpExchange, TcpConnection, untilLine } from './tcp.js';

describe('transports against hostile peers', () => {
  let hostile: HostileServer;
  before(async () => {
    hostile = await startHostileServer();
  });
  after(() => hostile.close());

  it('a flood is cut at the byte cap, without buffering it', async () => {
    const before = process.memoryUsage().rss;
    const reply = await tcpExchange('127.0.0.1', hostile.byBehaviour.flood, undefined, () => 0, { timeoutMs: 3000, maxBytes: 64 * 1024 });
    assert.ok(isFailure(reply) && reply.reason === 'too-large', JSON.stringify(reply));
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
    const http = await httpGet({ host: '127.0.0.1', port: hostile.byBehaviour.flood, path: '/', timeoutMs: 2000 });
    assert.ok(isFailure(http), 'a flood of non-HTTP bytes is not an HTTP reply');
  });

  it('silence ends at the timeout', async () => {
    const started = Date.now();
    const reply = await tcpExchange('127.0.0.1', hostile.byBehaviour.silent, 'PING\r\n', untilLine, { timeoutMs: 300 });
    assert.ok(isFailure(reply) && reply.reason === 'timeout');
    assert.ok(Date.now() - started < 1500);
    const http = await httpGet({ host: '127.0.0.1', port: hostile.byBehaviour.silent, path: '/', timeoutMs: 300 });
    assert.ok(isFailure(http) && http.reason === 'timeout');
  });

  it('TLS on a plain port and an early close become failures, not exceptions', async () => {
    const tls = await httpGet({ host: '127.0.0.1', port: hostile.byBehaviour.tls, path: '/', timeoutMs: 1000 });
    assert.ok(isFailure(tls) && tls.reason === 'protocol', JSON.stringify(tls));
    const cut = await httpGet({ host: '127.0.0.1', port: hostile.byBehaviour['close-mid-reply'], path: '/', timeoutMs: 1000 });
    assert.ok(isFailure(cut), JSON.stringify(cut));
  });

  it('a scan-wide abort ends a pending read at once', async () => {
    const controller = new AbortController();
    const conn = await connectTcp('127.0.0.1', hostile.byBehaviour.silent, { timeoutMs: 1000, signal: controller.signal });
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
