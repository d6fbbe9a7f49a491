// A live store that accepts, reads and never answers, on loopback: triage of every engine stops when its
// signal aborts, closes the connection, and says it was stopped (unknown is not clean).
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDeadline, triage } from './index.js';

describe('triage against a stalling store', () => {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  let port = 0;
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  for (const scheme of ['clickhouse', 'postgres', 'mysql', 'redis']) {
    it(`${scheme}: stops at the deadline, closes the connection and records why`, async () => {
      const deadline = startDeadline(300, 'the test deadline');
      const started = Date.now();
      const result = await triage(`${scheme}://127.0.0.1:${port}/`, { fingerprintKey: 'k', env: {}, signal: deadline.signal });
      deadline.clear();
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
      assert.equal(result.rows, 0);
      assert.ok(result.errors.some((e) => e.message === 'stopped before the end: the test deadline of 300 ms passed'), JSON.stringify(result.errors));
      assert.equal(result.status, 'failed', 'stopped before reading anything: failed, as any triage that read nothing');
      assert.equal(result.failure?.kind, 'run');
      const open = Date.now() + 2000;
      while (sockets.size > 0 && Date.now() < open) await new Promise((r) => setTimeout(r, 20));
      assert.equal(sockets.size, 0, 'the connection was closed');
    });
  }
});
