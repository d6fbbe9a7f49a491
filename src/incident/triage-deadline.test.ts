// A live store that accepts, reads and never answers, on loopback: triage of every engine stops when its
// signal aborts, closes the connection, and says it was stopped (unknown is not clean).
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { startDeadline, triage } from './index.js';

/** A listener that accepts, reads and never answers; `sockets` are its open connections. */
async function startStallingStore(): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// Each engine gets a store of its own, so one engine's connection is never counted as another's.
describe('triage against a stalling store', () => {
  for (const scheme of ['clickhouse', 'postgres', 'mysql', 'redis']) {
    it(`${scheme}: stops at the deadline, closes the connection and records why`, async () => {
      const store = await startStallingStore();
      try {
        const deadline = startDeadline(300, 'the test deadline');
        const started = Date.now();
        const result = await triage(`${scheme}://127.0.0.1:${store.port}/`, { fingerprintKey: 'k', env: {}, signal: deadline.signal });
        deadline.clear();
        assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
        assert.equal(result.rows, 0);
        assert.ok(
          result.errors.some((e) => e.message === 'stopped before the end: the test deadline of 300 ms passed'),
          JSON.stringify(result.errors),
        );
        assert.equal(result.status, 'failed', 'stopped before reading anything: failed, as any triage that read nothing');
        assert.equal(result.failure?.kind, 'run');
        // fetch's pool may have taken the connection as idle when the abort came before the request went out on it;
        // then it closes at the pool's keep-alive timeout (4 s), never later, and nothing was sent on it.
        const open = Date.now() + 6000;
        while (store.sockets.size > 0 && Date.now() < open) await new Promise((r) => setTimeout(r, 20));
        assert.equal(store.sockets.size, 0, 'the connection was closed');
      } finally {
        await store.close();
      }
    });
  }
});
